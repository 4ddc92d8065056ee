using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Providers;
using VoiceActors.Sessions;

namespace VoiceActors.Media;

/// <summary>
/// One session's audio path. Candidate frames come in on the grain's turn (<see cref="Push"/>: no awaits, no I/O) and go to
/// the provider link's bounded queue; provider audio comes back on the link's pump and goes straight to the attached sink
/// without entering the grain. Turns and provider status go back to the grain as grain calls, in order, from one loop.
/// </summary>
public sealed partial class AudioRelay : IVoiceEvents, IAsyncDisposable
{
    /// <summary>Timeline kind of a non-fatal provider error event (the connection stayed up).</summary>
    public const string ProviderErrorKind = "provider.error";

    private readonly string _sessionId;
    private readonly ISessionMediaEvents _grain;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly MediaRelayOptions _options;
    private readonly ProviderFailoverOptions _failover;
    private readonly ProviderLink _link;
    private readonly AudioRateLimiter _limiter;
    private readonly SpeechDetector _speech;
    private readonly Channel<object> _control = Channel.CreateBounded<object>(new BoundedChannelOptions(256) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest });
    private readonly ConversationWindow _conversation; // bounded by what a replay can use, however long the interview
    private readonly CancellationTokenSource _stop = new();
    private volatile IAudioSink? _sink;
    private volatile Recording.SessionRecorder? _recorder; // null without consent to recording: nothing is even queued
    private long _lastLoudUtcTicks;
    private long _turnSinceUtcTicks;
    private long _lastSpikeReport;
    private long _framesReceived;
    private long _framesToProvider;
    private long _framesToClient;
    private long _framesDropped;
    private long _outSequence;
    private long _agentAudioUntilUtcTicks; // when the agent audio handed to the sink so far ends playing (0: silent)
    private long _bargeIns;
    // Candidate frames that came before the provider's first connection (a move or a resume: the candidate may already be
    // speaking), flushed in order once it connects, so an utterance begun in the handover is heard whole. Guarded by itself.
    private readonly List<(AudioFrame Frame, long ArrivedUtcTicks)> _held = [];
    private volatile bool _holding;

    public AudioRelay(string sessionId, ProviderSettings settings, string? resumeWith, Conversation conversation,
        ISessionMediaEvents grain, VoiceProviderRegistry registry, MediaRelayOptions options, ProviderFailoverOptions failover,
        TimeProvider clock, ILogger logger, bool afterOutage = false)
    {
        _sessionId = sessionId;
        _grain = grain;
        _clock = clock;
        _logger = logger;
        _options = options;
        _failover = failover;
        _conversation = new ConversationWindow(ReplayLimits.Of(registry));
        _conversation.Reset(conversation.Earlier);
        foreach (var turn in conversation.Turns) _conversation.Add(turn);
        _limiter = new AudioRateLimiter(AudioFormat.BytesPerSecond * options.MaxRealTimeRatio, AudioFormat.BytesPerSecond * options.BurstMilliseconds / 1000.0, clock);
        _speech = new SpeechDetector(options.SpeechLevel, 2, Math.Max(1, (int)(options.EndOfSpeechSilence.TotalMilliseconds / AudioFormat.FrameMilliseconds)));
        _link = new ProviderLink(registry, failover, clock, sessionId, settings, resumeWith, ConversationSoFar, this, afterOutage);
        _holding = options.HoldUntilConnected > TimeSpan.Zero;
    }

    public string ActiveProvider => _link.ActiveProvider;

    /// <summary>The candidate is not speaking, no answer is awaited and the agent's last answer is over: a safe moment to move.</summary>
    public bool AtTurnBoundary => !_holding && _link.AtTurnBoundary && // held frames are not yet heard: whatever they hold is still owed
        !_speech.InSpeech && // an utterance whose end this relay has not yet seen still owes an answer (its end sets the link awaiting)
        _clock.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastLoudUtcTicks) > _options.EndOfSpeechSilence.Ticks; // the provider's own VAD lags under load

    public MediaStats Stats => new(Interlocked.Read(ref _framesReceived), Interlocked.Read(ref _framesToProvider),
        Interlocked.Read(ref _framesToClient), Interlocked.Read(ref _framesDropped), _link.IsConnected);

    public void Start()
    {
        _ = Task.Run(DeliverToGrainAsync);
        _link.Start();
    }

    public void Attach(IAudioSink? sink) => _sink = sink;

    /// <summary>Taps both sides of the conversation for the recorder (a queue write per frame, see <c>SessionRecorder</c>).</summary>
    public void Record(Recording.SessionRecorder? recorder) => _recorder = recorder;

    /// <summary>
    /// The hot path in: rate limit, end-of-speech tracking, hand to the provider's queue. Called on the grain's turn; a
    /// frame that is not passed on is counted here (rate limited, or no provider), so the caller need not look.
    /// </summary>
    public void Push(AudioFrame frame)
    {
        Interlocked.Increment(ref _framesReceived);
        if (!_limiter.TryTake(frame.Pcm.Length))
        {
            Interlocked.Increment(ref _framesDropped);
            MediaMetrics.Dropped("rate_limited");
            return;
        }
        _recorder?.Candidate(frame);
        if (_holding && Hold(frame)) return;
        Forward(frame);
    }

    /// <summary>End-of-speech tracking and the provider's queue: on the grain's turn, or on the link's thread for the held frames.</summary>
    private void Forward(AudioFrame frame)
    {
        var edge = _speech.Feed(frame.Pcm);
        if (_speech.LastFrameLoud) _lastLoudUtcTicks = frame.SentAtUtcTicks;
        if (edge == SpeechEdge.Ended)
        {
            // The utterance ended with its last loud frame; the provider's own pause detection is part of the turn latency.
            Interlocked.Exchange(ref _turnSinceUtcTicks, _lastLoudUtcTicks + AudioFormat.FrameMilliseconds * TimeSpan.TicksPerMillisecond);
            _link.ExpectResponse();
        }
        if (!_link.TrySendAudio(frame)) Interlocked.Increment(ref _framesDropped);
    }

    /// <summary>Keeps a frame for the first connection; false once that has come (the caller forwards it). Oldest first out when full.</summary>
    private bool Hold(AudioFrame frame)
    {
        lock (_held)
        {
            if (!_holding) return false;
            var now = _clock.GetUtcNow().UtcTicks;
            _held.Add((frame, now));
            var window = _options.HoldUntilConnected.Ticks;
            var drop = 0;
            while (drop < _held.Count && now - _held[drop].ArrivedUtcTicks > window) drop++;
            if (drop > 0)
            {
                _held.RemoveRange(0, drop);
                Interlocked.Add(ref _framesDropped, drop);
                for (var i = 0; i < drop; i++) MediaMetrics.Dropped("provider_unavailable");
            }
            return true;
        }
    }

    /// <summary>The provider connected: the held frames go first, by the client's sequence (forwarded and direct calls race), then live ones.</summary>
    private void FlushHeld()
    {
        if (!_holding) return;
        lock (_held)
        {
            if (!_holding) return;
            var window = _options.HoldUntilConnected.Ticks;
            var now = _clock.GetUtcNow().UtcTicks;
            foreach (var (frame, arrived) in _held.OrderBy(h => h.Frame.Sequence)) // stable: equal sequences keep arrival order
            {
                if (now - arrived > window)
                {
                    Interlocked.Increment(ref _framesDropped); // too old to be worth hearing: the provider was down, not moving
                    MediaMetrics.Dropped("provider_unavailable");
                    continue;
                }
                Forward(frame);
            }
            _held.Clear();
            _holding = false;
        }
    }

    /// <summary>Barge-ins of this activation (the candidate spoke while agent audio was playing).</summary>
    public long BargeIns => Interlocked.Read(ref _bargeIns);

    /// <summary>
    /// The candidate started speaking. While agent audio is still playing (by the relay's account of what it handed to the
    /// sink) that is a barge-in, and at once: the sink drops the agent audio it holds, the provider cuts its answer short,
    /// the count goes up and the timeline records it. Otherwise it is an ordinary turn and nothing happens. The one entry
    /// point for barge-in; false when there was nothing to interrupt.
    /// </summary>
    public bool BargeIn(string provider)
    {
        var now = _clock.GetUtcNow().UtcTicks;
        var until = Interlocked.Exchange(ref _agentAudioUntilUtcTicks, 0);
        if (until == 0 || until + _options.BargeInPlayoutAllowance.Ticks <= now) return false;
        _link.Interrupt(); // first: the cut then covers every frame the provider emitted before it stopped, bar one in flight
        var sink = _sink;
        if (sink is not null)
        {
            try
            {
                _ = sink.OnBargeIn(Interlocked.Read(ref _outSequence));
            }
            catch (Exception)
            {
                // a vanished observer holds no audio to drop
            }
        }
        Interlocked.Increment(ref _bargeIns);
        MediaMetrics.BargeIns.Add(1);
        var cutMs = Math.Max(0, until - now) / TimeSpan.TicksPerMillisecond;
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.BargeIn, provider, $"the candidate spoke over the agent: {cutMs} ms of agent audio dropped, answer truncated"));
        return true;
    }

    void IVoiceEvents.OnCandidateSpeechStarted(string provider) => BargeIn(provider);

    void IVoiceEvents.OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks)
    {
        Interlocked.Increment(ref _framesToProvider);
        var ms = MediaMetrics.RecordLatency(MediaMetrics.Inbound, sentAtUtcTicks, handedOffUtcTicks);
        if (ms > _failover.LatencySpikeThreshold.TotalMilliseconds) ReportSpike($"inbound frame took {ms:0.0} ms to reach the provider");
    }

    /// <summary>The hot path out, on the provider's pump: straight to the sink (a one-way call), never through the grain.</summary>
    void IVoiceEvents.OnProviderAudio(AudioFrame frame)
    {
        _recorder?.Agent(frame); // as the provider spoke it, client or not
        var since = Interlocked.Exchange(ref _turnSinceUtcTicks, 0);
        if (since != 0) MediaMetrics.RecordLatency(MediaMetrics.Turn, since, frame.SentAtUtcTicks);
        var sink = _sink;
        if (sink is null)
        {
            Interlocked.Increment(ref _framesDropped);
            MediaMetrics.Dropped("no_client");
            return;
        }
        // One sequence per session across reconnects and failovers, so the client can restore order: Orleans does not
        // promise that one-way calls arrive in the order they were sent.
        frame = frame with { Sequence = Interlocked.Increment(ref _outSequence) };
        try
        {
            _ = sink.OnProviderAudio(frame);
        }
        catch (Exception)
        {
            // a vanished observer: its replacement attaches itself; the frame is lost like any late audio
            Interlocked.Increment(ref _framesDropped);
            return;
        }
        Interlocked.Increment(ref _framesToClient);
        var now = _clock.GetUtcNow().UtcTicks;
        // One writer (the provider's pump); a barge-in racing it resets to 0, and at worst this frame's end survives it.
        var playingUntil = Volatile.Read(ref _agentAudioUntilUtcTicks);
        Volatile.Write(ref _agentAudioUntilUtcTicks, Math.Max(playingUntil, now) + AudioFormat.Duration(frame.Pcm.Length).Ticks);
        var ms = MediaMetrics.RecordLatency(MediaMetrics.Outbound, frame.SentAtUtcTicks, now);
        if (ms > _failover.LatencySpikeThreshold.TotalMilliseconds) ReportSpike($"outbound frame took {ms:0.0} ms to leave for the client");
    }

    void IVoiceEvents.OnTranscript(Turn turn)
    {
        lock (_conversation) _conversation.Add(turn);
        _control.Writer.TryWrite(turn);
    }

    void IVoiceEvents.OnProviderError(string provider, string code, string message) =>
        _control.Writer.TryWrite(new ProviderEvent(ProviderErrorKind, provider, $"error event {code}: {Truncate(message)}"));

    void IVoiceEvents.OnProviderConnected(string provider, int attempt, int replayedTurns)
    {
        FlushHeld();
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.ProviderConnected, provider, $"attempt {attempt}, replayed {replayedTurns} turns"));
    }

    void IVoiceEvents.OnProviderFailed(string provider, string reason, int consecutiveFailures) =>
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.ProviderFailed, provider, $"{Truncate(reason)} ({consecutiveFailures} in a row)"));

    void IVoiceEvents.OnProviderFailover(string from, string to, string reason) =>
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.ProviderFailover, to, $"{from} -> {to}: {Truncate(reason)}"));

    void IVoiceEvents.OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns) =>
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.ProviderRotated, provider, $"{reason}: fresh session, replayed {verbatimTurns} turns verbatim, {condensedTurns} condensed"));

    private Conversation ConversationSoFar()
    {
        lock (_conversation) return _conversation.Snapshot();
    }

    private void ReportSpike(string detail)
    {
        var now = _clock.GetTimestamp();
        var last = Interlocked.Read(ref _lastSpikeReport);
        if (last != 0 && _clock.GetElapsedTime(last, now) < _options.SpikeReportInterval) return;
        if (Interlocked.CompareExchange(ref _lastSpikeReport, now, last) != last) return;
        _control.Writer.TryWrite(new ProviderEvent(TimelineKinds.LatencySpike, _link.ActiveProvider, detail));
    }

    /// <summary>One loop delivers turns and provider events to the grain in the order they happened.</summary>
    private async Task DeliverToGrainAsync()
    {
        try
        {
            await foreach (var item in _control.Reader.ReadAllAsync(_stop.Token))
            {
                try
                {
                    if (item is Turn turn) await _grain.OnProviderTurn(turn);
                    else if (item is ProviderEvent e) await _grain.OnProviderEvent(e);
                }
                catch (Exception ex) when (!_stop.IsCancellationRequested)
                {
                    LogDeliveryFailed(_sessionId, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200];

    public async ValueTask DisposeAsync()
    {
        _sink = null;
        lock (_held)
        {
            _holding = false;
            _held.Clear();
        }
        await _link.DisposeAsync();
        _stop.Cancel(); // not awaited: the loop may be inside a call to the very grain that is disposing us
        _control.Writer.TryComplete();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: could not hand a provider event to the session")]
    private partial void LogDeliveryFailed(string sessionId, Exception exception);
}

/// <summary>Builds a session's relay with the silo's providers and options.</summary>
public sealed class AudioRelayFactory(
    VoiceProviderRegistry registry,
    IOptions<MediaRelayOptions> options,
    IOptions<ProviderFailoverOptions> failover,
    TimeProvider clock,
    ILoggerFactory loggers)
{
    public VoiceProviderRegistry Providers => registry;

    /// <param name="afterOutage">The session resumed after its silo was lost (see <see cref="ProviderLink"/>).</param>
    public AudioRelay Create(string sessionId, ProviderSettings settings, string? resumeWith, Conversation conversation, ISessionMediaEvents grain,
        bool afterOutage = false) =>
        new(sessionId, settings, resumeWith, conversation, grain, registry, options.Value, failover.Value, clock, loggers.CreateLogger<AudioRelay>(), afterOutage);
}
