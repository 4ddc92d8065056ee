using VoiceActors.LiveKit;
using System.Threading.Channels;
using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Providers;

/// <summary>
/// A voice provider that runs in-process: it listens for the candidate to pause (frame energy), waits its response latency,
/// then speaks synthetic audio at real time and reports both sides as transcript turns. Every choice it makes comes from a
/// generator seeded with <see cref="SimulatedProviderOptions.Seed"/>, the session id and the attempt, so a run repeats exactly.
/// </summary>
public sealed class SimulatedVoiceProvider(string name, SimulatedProviderOptions options, TimeProvider clock, ProviderSessionOptions? session = null) : IVoiceProvider
{
    public string Name => name;

    /// <summary>Unlimited unless a budget (or <see cref="SimulatedProviderOptions.SessionCap"/>) is set: a session that outlives it ends as OpenAI's does (expired).</summary>
    public ProviderSessionOptions Session { get; } = session ?? new ProviderSessionOptions();

    public async Task<IVoiceConnection> ConnectAsync(ProviderConnectRequest request, IVoiceEvents events, CancellationToken cancellationToken)
    {
        var random = new Random(HashCode.Combine(options.Seed, StableHash(request.SessionId), StableHash(name), request.Attempt));
        if (options.ConnectLatency > TimeSpan.Zero) await Task.Delay(options.ConnectLatency, clock, cancellationToken);
        if (request.Attempt <= options.FailFirstConnects || random.NextDouble() < options.ConnectFailureRate)
            throw new ProviderException(name, "connection refused (injected fault)");
        var connection = new SimulatedConnection(name, options, clock, events, random, request.Conversation.Count + request.CondensedTurns);
        connection.Start(options.SessionCap ?? Session.Budget, answerNow: request.AnswerOwed);
        return connection;
    }

    /// <summary>FNV-1a: string.GetHashCode is randomized per process, which would break determinism across runs.</summary>
    internal static int StableHash(string value)
    {
        var hash = 2166136261u;
        foreach (var c in value) hash = (hash ^ c) * 16777619u;
        return (int)hash;
    }
}

internal sealed class SimulatedConnection(
    string provider, SimulatedProviderOptions options, TimeProvider clock, IVoiceEvents events, Random random, int replayedTurns) : IVoiceConnection
{
    private static readonly string[] Questions =
    [
        "Thanks. Could you tell me about a project you are proud of?",
        "What was the hardest technical problem in it, and how did you solve it?",
        "How do you decide what to test first?",
        "Tell me about a time you disagreed with a teammate.",
        "How would you design a service that must never lose a message?",
        "What would you do differently if you started that project again?",
    ];

    private readonly Channel<AudioFrame> _inbound = Channel.CreateBounded<AudioFrame>(
        new BoundedChannelOptions(50) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
        static _ => MediaMetrics.Dropped("provider_backlog"));
    private readonly SpeechDetector _detector = new(options.SpeechLevel, Frames(options.MinSpeech), Frames(options.EndOfSpeechSilence));
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private CancellationTokenSource? _speaking;
    private bool _audible; // the answer in _speaking has started to sound (guarded by _gate)
    private int _utterances = replayedTurns; // a replayed conversation continues with the next question, not the first
    private long _received;
    private long _sequence;
    private long _speechStartTicks;
    private bool _stalled;
    private ITimer? _cap; // the session's duration cap, as a real provider enforces it
    private Task _listening = Task.CompletedTask;

    public string Provider => provider;

    public Task Completion => _completion.Task;

    /// <param name="answerNow">The replayed conversation ends with an unanswered candidate turn: answer it now, as after an utterance.</param>
    public void Start(TimeSpan? cap, bool answerNow = false)
    {
        if (cap is { } limit)
            _cap = clock.CreateTimer(static s => ((SimulatedConnection)s!).Fail("session expired: the session hit its maximum duration", expired: true),
                this, limit, Timeout.InfiniteTimeSpan);
        if (answerNow) Answer(Questions[Math.Max(0, _utterances - 1) % Questions.Length], dropMidway: false); // before the listener shares the generator
        _listening = Task.Run(ListenAsync);
    }

    public bool TrySendAudio(AudioFrame frame) => _inbound.Writer.TryWrite(frame); // full: the oldest frame goes (counted)

    public void Interrupt() => StopSpeaking();

    public void Abort(string reason) => Fail(reason);

    /// <summary>No token on the wait (a cancelable wait allocates on every frame): Fail and DisposeAsync complete the queue.</summary>
    private async Task ListenAsync()
    {
        var reader = _inbound.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var frame))
            {
                if (_stop.IsCancellationRequested) return;
                events.OnCandidateAudioSent(frame.SentAtUtcTicks, clock.GetUtcNow().UtcTicks);
                if (options.DropAfterFrames > 0 && ++_received >= options.DropAfterFrames)
                {
                    Fail("connection dropped (injected fault)");
                    return;
                }
                switch (_detector.Feed(frame.Pcm))
                {
                    case SpeechEdge.Started:
                        _speechStartTicks = clock.GetUtcNow().UtcTicks;
                        DropPendingAnswer();
                        events.OnCandidateSpeechStarted(provider); // talking over an audible answer: the relay interrupts it
                        break;
                    case SpeechEdge.Ended:
                        OnCandidateFinished();
                        break;
                }
            }
        }
    }

    private void OnCandidateFinished()
    {
        var now = clock.GetUtcNow();
        var started = _speechStartTicks == 0 ? now : new DateTimeOffset(_speechStartTicks, TimeSpan.Zero);
        _utterances++;
        if (options.TranscribeCandidate)
            events.OnTranscript(new Turn(ParticipantRole.Candidate, $"(candidate answer {_utterances}, {(now - started).TotalSeconds:0.0} s of speech)", started, now));
        if (_stalled) return;

        var roll = random.NextDouble();
        if (roll < options.StallRate)
        {
            _stalled = true; // a stalled provider keeps the socket open and never answers again
            return;
        }
        roll -= options.StallRate;
        if (roll < options.ErrorRate) events.OnProviderError(provider, "server_error", "injected error event");
        var dropMidway = random.NextDouble() < options.DropRate;
        Answer(Questions[(_utterances - 1) % Questions.Length], dropMidway);
    }

    /// <summary>Speaks <paramref name="text"/> after the response latency, replacing an answer still pending.</summary>
    private void Answer(string text, bool dropMidway)
    {
        var jitter = options.ResponseJitter.Ticks == 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)(random.NextDouble() * options.ResponseJitter.Ticks));
        CancellationTokenSource speaking;
        lock (_gate)
        {
            _speaking?.Cancel();
            speaking = _speaking = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            _audible = false;
        }
        var length = options.ResponseDuration + (options.ResponseDurationJitter.Ticks == 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)(random.NextDouble() * options.ResponseDurationJitter.Ticks)));
        _ = Task.Run(() => SpeakAsync(options.ResponseLatency + jitter, length, text, dropMidway, speaking.Token));
    }

    /// <summary>Streams the answer at real time: frame i is due at start + i × 20 ms; a late timer catches up instead of drifting.</summary>
    private async Task SpeakAsync(TimeSpan latency, TimeSpan length, string text, bool dropMidway, CancellationToken ct)
    {
        try
        {
            await Task.Delay(latency, clock, ct);
            lock (_gate)
            {
                if (ct.IsCancellationRequested) return;
                _audible = true;
            }
            var frames = Frames(length);
            var start = clock.GetTimestamp();
            var started = clock.GetUtcNow();
            var sent = 0;
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(AudioFormat.FrameMilliseconds), clock);
            while (sent < frames)
            {
                var due = Math.Min(frames, 1 + (int)(clock.GetElapsedTime(start).Ticks / (AudioFormat.FrameMilliseconds * TimeSpan.TicksPerMillisecond)));
                for (; sent < due; sent++)
                {
                    if (ct.IsCancellationRequested) return; // interrupted: not one more frame
                    if (dropMidway && sent == frames / 2)
                    {
                        Fail("connection dropped mid-answer (injected fault)");
                        return;
                    }
                    events.OnProviderAudio(new AudioFrame(Interlocked.Increment(ref _sequence), clock.GetUtcNow().UtcTicks, SyntheticVoice.Frame(sent)));
                }
                if (sent < frames && !await timer.WaitForNextTickAsync(ct)) return;
            }
            events.OnTranscript(new Turn(ParticipantRole.Agent, text, started, clock.GetUtcNow()));
        }
        catch (OperationCanceledException)
        {
            // interrupted by the candidate or the connection closed
        }
    }

    /// <summary>The candidate speaks again before the answer began: it is dropped (the candidate was not done), as a real VAD does.</summary>
    private void DropPendingAnswer()
    {
        lock (_gate)
        {
            if (_speaking is null || _audible) return;
            _speaking.Cancel();
            _speaking = null;
        }
    }

    private void StopSpeaking()
    {
        lock (_gate)
        {
            _speaking?.Cancel();
            _speaking = null;
        }
    }

    private void Fail(string reason, bool expired = false)
    {
        if (!_completion.TrySetException(new ProviderException(provider, reason) { SessionExpired = expired })) return;
        _cap?.Dispose();
        _stop.Cancel();
        _inbound.Writer.TryComplete();
    }

    private static int Frames(TimeSpan duration) => Math.Max(1, (int)(duration.Ticks / (AudioFormat.FrameMilliseconds * TimeSpan.TicksPerMillisecond)));

    /// <summary>A clean close hears out the frames already queued (a rotation switched sessions after accepting them), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        var clean = _completion.TrySetResult();
        _cap?.Dispose();
        _inbound.Writer.TryComplete();
        if (clean)
        {
            try
            {
                await _listening.WaitAsync(TimeSpan.FromMilliseconds(250)); // real time: in memory, it takes microseconds
            }
            catch (TimeoutException)
            {
            }
        }
        _stop.Cancel();
    }
}

/// <summary>The simulated agent's voice: one second of a vowel-like tone, computed once and shared (frames are immutable).</summary>
internal static class SyntheticVoice
{
    private const int Count = 50;
    private static readonly byte[][] Frames = Build();

    public static byte[] Frame(int index) => Frames[index % Count];

    private static byte[][] Build()
    {
        var frames = new byte[Count][];
        for (var f = 0; f < Count; f++)
        {
            var pcm = new byte[AudioFormat.FrameBytes];
            for (var i = 0; i < AudioFormat.SamplesPerFrame; i++)
            {
                var t = (f * AudioFormat.SamplesPerFrame + i) / (double)AudioFormat.SampleRate;
                var envelope = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 3 * t); // syllable-like swell, 3 per second
                var sample = envelope * (0.6 * Math.Sin(2 * Math.PI * 180 * t) + 0.3 * Math.Sin(2 * Math.PI * 360 * t) + 0.1 * Math.Sin(2 * Math.PI * 720 * t));
                var s = (short)(sample * 9000);
                pcm[2 * i] = (byte)s;
                pcm[2 * i + 1] = (byte)(s >> 8);
            }
            frames[f] = pcm;
        }
        return frames;
    }
}
