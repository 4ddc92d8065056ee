using VoiceActors.LiveKit;
using System.ClientModel;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OpenAI.Realtime;
using VoiceActors.Media;
using VoiceActors.Sessions;

// The OpenAI package marks its realtime client as evaluation-only (OPENAI002); it is the official client the design requires.
#pragma warning disable OPENAI002

namespace VoiceActors.Providers;

/// <summary>
/// An OpenAI-Realtime-protocol provider through the official <c>OpenAI</c> package's realtime client: OpenAI itself, and
/// Grok (xAI's realtime voice API speaks the same protocol) as a second instance with its own endpoint, model and key.
/// </summary>
public sealed partial class RealtimeVoiceProvider(string name, RealtimeProviderOptions options, TimeProvider clock, ILogger logger,
    ProviderSessionOptions? session = null) : IVoiceProvider
{
    public string Name => name;

    public ProviderSessionOptions Session { get; } = session ?? new ProviderSessionOptions();

    public async Task<IVoiceConnection> ConnectAsync(ProviderConnectRequest request, IVoiceEvents events, CancellationToken cancellationToken)
    {
        var client = new RealtimeClient(new ApiKeyCredential(options.ApiKey is { Length: > 0 } key ? key : "unset"),
            new RealtimeClientOptions { Endpoint = options.Endpoint });
        var model = request.Settings.Model ?? options.Model;
        RealtimeSessionClient session;
        try
        {
            session = await client.StartConversationSessionAsync(model, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ProviderException(name, $"connect failed: {e.GetType().Name}", e); // the message may echo the request; keep it out
        }

        try
        {
            await session.ConfigureConversationSessionAsync(SessionOptions(request.Settings), cancellationToken);
            if (request.Context is { Length: > 0 } context) await session.AddItemAsync(RealtimeItem.CreateSystemMessageItem(context), cancellationToken);
            foreach (var turn in request.Conversation)
            {
                var item = turn.Speaker == ParticipantRole.Agent
                    ? RealtimeItem.CreateAssistantMessageItem(turn.Text)
                    : RealtimeItem.CreateUserMessageItem(turn.Text);
                await session.AddItemAsync(item, cancellationToken);
            }
            // The previous connection was lost before the agent's answer was complete: ask for it now, as its end of turn would have.
            if (request.AnswerOwed) await session.StartResponseAsync(cancellationToken);
        }
        catch (Exception e)
        {
            session.Dispose();
            if (e is OperationCanceledException) throw;
            throw new ProviderException(name, $"session setup failed: {e.GetType().Name}", e);
        }

        LogConnected(request.SessionId, name, model, request.Conversation.Count, request.CondensedTurns);
        var connection = new RealtimeConnection(name, session, events, clock, options.SendQueueFrames);
        connection.Start();
        return connection;
    }

    private RealtimeConversationSessionOptions SessionOptions(ProviderSettings settings)
    {
        var format = new RealtimePcmAudioFormat { Rate = AudioFormat.SampleRate };
        var voice = settings.Voice ?? options.Voice;
        var result = new RealtimeConversationSessionOptions
        {
            Instructions = settings.Instructions ?? "You are a friendly technical interviewer. Ask one question at a time and keep answers short.",
            AudioOptions = new RealtimeConversationSessionAudioOptions
            {
                InputAudioOptions = new RealtimeConversationSessionInputAudioOptions
                {
                    AudioFormat = format,
                    AudioTranscriptionOptions = new RealtimeAudioTranscriptionOptions { Model = "gpt-4o-mini-transcribe" },
                    TurnDetection = new RealtimeServerVadTurnDetection(),
                },
                OutputAudioOptions = new RealtimeConversationSessionOutputAudioOptions
                {
                    AudioFormat = new RealtimePcmAudioFormat { Rate = AudioFormat.SampleRate },
                    Voice = voice is null ? null : new RealtimeVoice(voice),
                },
            },
        };
        return result;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId}: connected to {Provider} ({Model}), replayed {Turns} turns verbatim and {Condensed} condensed")]
    private partial void LogConnected(string sessionId, string provider, string model, int turns, int condensed);
}

/// <summary>
/// One realtime session: a send pump (bounded queue, oldest dropped) and a receive pump, both off the grain's scheduler.
/// The send pump is the socket's only writer; audio and an interrupt wake it through a one-slot signal, so an interrupt
/// takes no place in the audio queue.
/// </summary>
internal sealed class RealtimeConnection : IVoiceConnection
{
    private readonly string _provider;
    private readonly RealtimeSessionClient _session;
    private readonly IVoiceEvents _events;
    private readonly TimeProvider _clock;
    private readonly Channel<AudioFrame> _outbound;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously); // the send pump ended
    private readonly byte[] _carry = new byte[AudioFormat.FrameBytes];
    private int _carried;
    private long _sequence;
    private int _interruptRequested;
    // What an interrupt must cut: written by the receive pump, taken by Interrupt (any thread) and the send pump.
    private readonly object _answerGate = new();
    private bool _responseActive;
    private string? _audioItemId; // the assistant audio item being handed out
    private long _audioItemBytes; // of it, handed out so far
    private string? _truncatedItemId; // cut by the last interrupt: its late deltas are dropped
    private bool _pendingCancel;
    private string? _pendingTruncateItem;
    private long _pendingTruncateBytes;
    private string? _carryItemId; // receive pump only
    private DateTimeOffset? _candidateSpeechStarted;
    private DateTimeOffset? _agentSpeechStarted;

    public RealtimeConnection(string provider, RealtimeSessionClient session, IVoiceEvents events, TimeProvider clock, int queueFrames)
    {
        _provider = provider;
        _session = session;
        _events = events;
        _clock = clock;
        _outbound = Channel.CreateBounded<AudioFrame>(
            new BoundedChannelOptions(queueFrames) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            static _ => MediaMetrics.Dropped("provider_backlog"));
    }

    public string Provider => _provider;

    public Task Completion => _completion.Task;

    public void Start()
    {
        _ = Task.Run(SendAsync);
        _ = Task.Run(ReceiveAsync);
    }

    public bool TrySendAudio(AudioFrame frame)
    {
        var queued = _outbound.Writer.TryWrite(frame);
        _wake.Writer.TryWrite(true); // already signalled: dropped, which is the point
        return queued;
    }

    /// <summary>
    /// Barge-in, as OpenAI's Realtime guide has the client do it: <c>response.cancel</c> if a response is in progress, then
    /// <c>conversation.item.truncate</c> of the assistant audio item at the audio handed out so far, so the model's record
    /// of what it said matches what the candidate could have heard. Late deltas of the cut item are dropped.
    /// </summary>
    public void Interrupt()
    {
        lock (_answerGate)
        {
            _pendingCancel |= _responseActive;
            if (_audioItemId is { } item)
            {
                _pendingTruncateItem = item;
                _pendingTruncateBytes = _audioItemBytes;
                _truncatedItemId = item;
                _audioItemId = null;
                _audioItemBytes = 0;
            }
        }
        Interlocked.Exchange(ref _interruptRequested, 1);
        _wake.Writer.TryWrite(true);
    }

    public void Abort(string reason) => Fail(reason, null);

    /// <summary>No token on the wait (a cancelable wait allocates on every frame): Shutdown completes the signal instead.</summary>
    private async Task SendAsync()
    {
        try
        {
            var audio = _outbound.Reader;
            while (await _wake.Reader.WaitToReadAsync())
            {
                _wake.Reader.TryRead(out _);
                while (!_stop.IsCancellationRequested)
                {
                    if (Interlocked.Exchange(ref _interruptRequested, 0) == 1) await SendInterruptAsync();
                    if (!audio.TryRead(out var frame)) break;
                    await _session.SendInputAudioAsync(BinaryData.FromBytes(frame.Pcm), _stop.Token);
                    _events.OnCandidateAudioSent(frame.SentAtUtcTicks, _clock.GetUtcNow().UtcTicks);
                }
                if (audio.Completion.IsCompleted) break; // closing: what was queued has been sent
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fail($"send failed: {e.GetType().Name}", e);
        }
        finally
        {
            _sent.TrySetResult();
        }
    }

    private async Task SendInterruptAsync()
    {
        bool cancel;
        string? item;
        long bytes;
        lock (_answerGate)
        {
            (cancel, item, bytes) = (_pendingCancel, _pendingTruncateItem, _pendingTruncateBytes);
            (_pendingCancel, _pendingTruncateItem, _pendingTruncateBytes) = (false, null, 0);
        }
        if (cancel) await _session.CancelResponseAsync(_stop.Token);
        if (item is not null) await _session.TruncateItemAsync(item, 0, AudioFormat.Duration((int)Math.Min(bytes, int.MaxValue)), _stop.Token);
    }

    private async Task ReceiveAsync()
    {
        try
        {
            await foreach (var update in _session.ReceiveUpdatesAsync(_stop.Token))
            {
                switch (update)
                {
                    case RealtimeServerUpdateResponseCreated:
                        lock (_answerGate) _responseActive = true;
                        break;
                    case RealtimeServerUpdateResponseDone:
                        lock (_answerGate) _responseActive = false;
                        break;
                    case RealtimeServerUpdateResponseOutputAudioDelta audio:
                        if (!StartAudio(audio.ItemId)) break; // the rest of an answer the candidate cut short
                        _agentSpeechStarted ??= _clock.GetUtcNow();
                        Chunk(audio.Delta.ToMemory().Span);
                        break;
                    case RealtimeServerUpdateResponseOutputAudioDone:
                        if (_carryItemId is not null && _carryItemId == Volatile.Read(ref _truncatedItemId)) _carried = 0;
                        else Flush();
                        break;
                    case RealtimeServerUpdateResponseOutputAudioTranscriptDone said when !string.IsNullOrWhiteSpace(said.Transcript):
                        var now = _clock.GetUtcNow();
                        _events.OnTranscript(new Turn(ParticipantRole.Agent, said.Transcript, _agentSpeechStarted ?? now, now));
                        _agentSpeechStarted = null;
                        break;
                    case RealtimeServerUpdateInputAudioBufferSpeechStarted:
                        _candidateSpeechStarted = _clock.GetUtcNow();
                        _events.OnCandidateSpeechStarted(_provider); // a barge-in calls Interrupt from here
                        if (_carryItemId is not null && _carryItemId == Volatile.Read(ref _truncatedItemId)) _carried = 0;
                        break;
                    case RealtimeServerUpdateConversationItemInputAudioTranscriptionCompleted heard when !string.IsNullOrWhiteSpace(heard.Transcript):
                        var at = _clock.GetUtcNow();
                        _events.OnTranscript(new Turn(ParticipantRole.Candidate, heard.Transcript, _candidateSpeechStarted ?? at, at));
                        _candidateSpeechStarted = null;
                        break;
                    case RealtimeServerUpdateError error when error.Error?.Code == ProviderRotation.SessionExpiredCode:
                        // The session hit the provider's cap; the close (1001) follows. Not an error event: the link reopens and replays.
                        Fail($"session expired: {error.Error?.Message}", null, expired: true);
                        return;
                    case RealtimeServerUpdateError error when error.Error?.Code == "response_cancel_not_active":
                        break; // our cancel lost the race with the response's end (or the server's own VAD cancel): nothing was wrong
                    case RealtimeServerUpdateError error:
                        _events.OnProviderError(_provider, error.Error?.Code ?? error.Error?.Kind ?? "error", error.Error?.Message ?? "");
                        break;
                }
            }
            Fail("connection closed by the provider", null);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fail($"receive failed: {e.GetType().Name}", e);
        }
    }

    /// <summary>Receive pump: a delta of <paramref name="itemId"/> arrived; false when that item was cut by an interrupt.</summary>
    private bool StartAudio(string? itemId)
    {
        if (itemId is null) return true;
        if (itemId == _carryItemId && itemId != Volatile.Read(ref _truncatedItemId)) return true; // the common case, no lock
        lock (_answerGate)
        {
            if (itemId == _truncatedItemId) return false;
            _responseActive = true;
            _audioItemId = itemId;
            _audioItemBytes = 0;
        }
        _carried = 0; // a partial frame of an earlier item does not belong to this one
        _carryItemId = itemId;
        return true;
    }

    /// <summary>Cuts provider audio into 20 ms frames (one array per frame: it travels to the client as is).</summary>
    private void Chunk(ReadOnlySpan<byte> audio)
    {
        while (!audio.IsEmpty)
        {
            var n = Math.Min(audio.Length, AudioFormat.FrameBytes - _carried);
            audio[..n].CopyTo(_carry.AsSpan(_carried));
            _carried += n;
            audio = audio[n..];
            if (_carried == AudioFormat.FrameBytes) Flush();
        }
    }

    private void Flush()
    {
        if (_carried == 0) return;
        var length = _carried & ~1;
        _carried = 0;
        if (_carryItemId is not null)
        {
            lock (_answerGate)
            {
                if (_carryItemId == _truncatedItemId) return; // cut while this frame was being filled
                if (_carryItemId == _audioItemId) _audioItemBytes += length;
            }
        }
        var pcm = _carry.AsSpan(0, length).ToArray();
        if (pcm.Length > 0) _events.OnProviderAudio(new AudioFrame(++_sequence, _clock.GetUtcNow().UtcTicks, pcm));
    }

    private void Fail(string reason, Exception? inner, bool expired = false)
    {
        if (_completion.TrySetException(new ProviderException(_provider, reason, inner) { SessionExpired = expired })) Shutdown();
    }

    private void Shutdown()
    {
        _stop.Cancel();
        _outbound.Writer.TryComplete();
        _wake.Writer.TryComplete();
        _session.Dispose();
    }

    /// <summary>
    /// A clean close (a rotation, the session's end) first sends the candidate audio already queued, so a frame accepted just
    /// before the link switched sessions still reaches the old one; bounded, as a slow socket must not hold the switch.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_completion.TrySetResult()) return;
        _outbound.Writer.TryComplete();
        _wake.Writer.TryWrite(true);
        try
        {
            await _sent.Task.WaitAsync(DrainTimeout);
        }
        catch (TimeoutException)
        {
        }
        Shutdown();
    }

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMilliseconds(250);
}
