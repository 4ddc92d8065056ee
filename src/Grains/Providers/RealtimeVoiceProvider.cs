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
public sealed partial class RealtimeVoiceProvider(string name, RealtimeProviderOptions options, TimeProvider clock, ILogger logger) : IVoiceProvider
{
    public string Name => name;

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
            foreach (var turn in request.Conversation)
            {
                var item = turn.Speaker == ParticipantRole.Agent
                    ? RealtimeItem.CreateAssistantMessageItem(turn.Text)
                    : RealtimeItem.CreateUserMessageItem(turn.Text);
                await session.AddItemAsync(item, cancellationToken);
            }
        }
        catch (Exception e)
        {
            session.Dispose();
            if (e is OperationCanceledException) throw;
            throw new ProviderException(name, $"session setup failed: {e.GetType().Name}", e);
        }

        LogConnected(request.SessionId, name, model, request.Conversation.Count);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId}: connected to {Provider} ({Model}), replayed {Turns} turns")]
    private partial void LogConnected(string sessionId, string provider, string model, int turns);
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
    private readonly byte[] _carry = new byte[AudioFormat.FrameBytes];
    private int _carried;
    private long _sequence;
    private int _interruptRequested;
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

    public void Interrupt()
    {
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
                    if (Interlocked.Exchange(ref _interruptRequested, 0) == 1) await _session.CancelResponseAsync(_stop.Token);
                    if (!audio.TryRead(out var frame)) break;
                    await _session.SendInputAudioAsync(BinaryData.FromBytes(frame.Pcm), _stop.Token);
                    _events.OnCandidateAudioSent(frame.SentAtUtcTicks, _clock.GetUtcNow().UtcTicks);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fail($"send failed: {e.GetType().Name}", e);
        }
    }

    private async Task ReceiveAsync()
    {
        try
        {
            await foreach (var update in _session.ReceiveUpdatesAsync(_stop.Token))
            {
                switch (update)
                {
                    case RealtimeServerUpdateResponseOutputAudioDelta audio:
                        _agentSpeechStarted ??= _clock.GetUtcNow();
                        Chunk(audio.Delta.ToMemory().Span);
                        break;
                    case RealtimeServerUpdateResponseOutputAudioDone:
                        Flush();
                        break;
                    case RealtimeServerUpdateResponseOutputAudioTranscriptDone said when !string.IsNullOrWhiteSpace(said.Transcript):
                        var now = _clock.GetUtcNow();
                        _events.OnTranscript(new Turn(ParticipantRole.Agent, said.Transcript, _agentSpeechStarted ?? now, now));
                        _agentSpeechStarted = null;
                        break;
                    case RealtimeServerUpdateInputAudioBufferSpeechStarted:
                        _candidateSpeechStarted = _clock.GetUtcNow();
                        break;
                    case RealtimeServerUpdateConversationItemInputAudioTranscriptionCompleted heard when !string.IsNullOrWhiteSpace(heard.Transcript):
                        var at = _clock.GetUtcNow();
                        _events.OnTranscript(new Turn(ParticipantRole.Candidate, heard.Transcript, _candidateSpeechStarted ?? at, at));
                        _candidateSpeechStarted = null;
                        break;
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
        var pcm = _carry.AsSpan(0, _carried & ~1).ToArray();
        _carried = 0;
        if (pcm.Length > 0) _events.OnProviderAudio(new AudioFrame(++_sequence, _clock.GetUtcNow().UtcTicks, pcm));
    }

    private void Fail(string reason, Exception? inner)
    {
        if (_completion.TrySetException(new ProviderException(_provider, reason, inner))) Shutdown();
    }

    private void Shutdown()
    {
        _stop.Cancel();
        _outbound.Writer.TryComplete();
        _wake.Writer.TryComplete();
        _session.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        if (_completion.TrySetResult()) Shutdown();
        return ValueTask.CompletedTask;
    }
}
