using VoiceActors.LiveKit;
using VoiceActors.Regions;
using System.Diagnostics;
using VoiceActors.Media;
using VoiceActors.Sessions;
using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.LoadTest.Load;

/// <summary>
/// One simulated interview, doing what a real one does: create, attach its media sink, join as the candidate (the agent
/// joins when the provider connects), stream candidate audio in
/// real time (speech, then silence so the provider answers), take provider audio on its <see cref="IAudioSink"/>,
/// record turns, complete. Frames are sent by the runner's pump thread through <see cref="PumpIfDue"/>.
/// </summary>
public sealed class SimulatedSession : IAudioSink
{
    private const int StateStarting = 0, StateStreaming = 1, StateStopping = 2, StateDone = 3;
    private const int MaxFramesInFlight = 25; // 500 ms unacknowledged: a real-time client drops audio rather than queue it for later

    private readonly SessionContext _run;
    private readonly IInterviewSessionGrain _grain;
    private readonly ISessionMediaGrain _media;
    private readonly ISessionRoomEventsGrain _room;
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _speechFrames;
    private readonly int _cycleFrames;
    private readonly object _audioLock = new();
    private readonly RealisticCadence? _cadence;
    private static readonly long AnswerHeardQuietTicks = Stopwatch.Frequency * 6 / 10; // 600 ms without agent audio: the answer is over

    /// <summary>A silence inside an answer this long is kept with its time, to tell a rotation's silence from one every session heard (frames are 20 ms apart).</summary>
    public static readonly TimeSpan SilenceFloor = TimeSpan.FromMilliseconds(100);

    private int _state = StateStarting;
    private IAudioSink? _sinkReference;
    private long _sequence;
    private long _phase;
    private long _nextDue;
    private int _inFlight;
    private long _failingSince; // Stopwatch timestamp of the first failure of the current outage, 0 when healthy
    private int _reattaching;

    // Turn bookkeeping (pump thread writes, sink thread reads under _audioLock).
    private long _turnEndUtcTicks;
    private bool _awaitingReply;
    private DateTimeOffset _utteranceStart;

    // Provider audio sequence accounting, per epoch (a resumed provider stream may restart its numbering).
    private long _epochFirst = -1, _epochMax = -1, _epochReceived;

    // What the candidate heard of each answer (under _audioLock): for the gap at a provider rotation.
    private readonly List<AnswerRecord> _answers = [];
    private readonly List<long> _unansweredAtUtcTicks = [];
    private readonly List<Silence> _silences = []; // every silence of at least SilenceFloor inside an answer, with when it ended
    private long _answerStart, _answerLast, _answerMaxGap, _answerMaxGapEnd, _answerReply, _answerUtteranceEnd; // UTC ticks; _answerStart 0: none open
    private long _lastProviderFrame; // Stopwatch timestamp
    private volatile bool _awaitingFlag;
    private int _transcripts;

    public SimulatedSession(SessionContext run, string sessionId, int offsetFrames, int cadenceSeed = 0)
    {
        if (run.Options.Cadence == LoadCadence.Realistic) _cadence = new RealisticCadence(cadenceSeed, run.Options.FrameLength);
        _run = run;
        SessionId = sessionId;
        _grain = run.Client.GetGrain<IInterviewSessionGrain>(sessionId);
        _media = run.Client.GetGrain<ISessionMediaGrain>(sessionId);
        _room = run.Client.GetGrain<ISessionRoomEventsGrain>(sessionId);
        _speechFrames = (int)(run.Options.Speech / run.Options.FrameLength);
        _cycleFrames = _speechFrames + (int)(run.Options.Silence / run.Options.FrameLength);
        _phase = offsetFrames % _cycleFrames; // sessions do not all speak in lockstep
    }

    public string SessionId { get; }
    public bool IsStreaming => Volatile.Read(ref _state) == StateStreaming;
    public bool IsFinished => Volatile.Read(ref _state) == StateDone;
    public long StartedAt { get; private set; }

    /// <summary>Transcript turns that reached this client: the session forwards a turn only after its checkpoint, so each is a committed turn.</summary>
    public int TranscriptsSeen => Volatile.Read(ref _transcripts);

    /// <summary>The answers heard so far, the utterances (end, UTC ticks) that got none, and the silences of at least <see cref="SilenceFloor"/> inside the answers.</summary>
    public (AnswerRecord[] Answers, long[] Unanswered, Silence[] Silences) Heard()
    {
        lock (_audioLock)
        {
            CloseAnswer();
            return ([.. _answers], [.. _unansweredAtUtcTicks], [.. _silences]);
        }
    }

    /// <summary>Runs the whole life of the session; completes when it is completed or lost.</summary>
    public async Task RunAsync()
    {
        StartedAt = Stopwatch.GetTimestamp();
        var stats = _run.Stats;
        Interlocked.Increment(ref stats.SessionsStarted);
        try
        {
            var started = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref stats.FirstCreateTimestamp, started, 0);
            if (!await CreateAsync()) return;
            stats.Create.RecordMicros(MicrosSince(started));
            Interlocked.Exchange(ref stats.LastCreateTimestamp, Stopwatch.GetTimestamp());

            started = Stopwatch.GetTimestamp();
            _sinkReference = _run.Client.CreateObjectReference<IAudioSink>(this);
            if (!await CallAsync(() => _media.AttachMedia(_sinkReference), "attach")) return;
            // The candidate joins as LiveKit's webhook reports it (one event id, so a retried call applies once);
            // the agent joins by itself when the session's provider connects.
            var joined = new RoomEvent($"EV_load_{SessionId}_join", RoomEventKind.ParticipantJoined, $"candidate-{SessionId}", ParticipantRole.Candidate);
            if (!await CallAsync(() => _room.ApplyRoomEvent(joined), "join")) return;
            stats.Join.RecordMicros(MicrosSince(started));

            _nextDue = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref _state, StateStreaming, StateStarting);
            await _stop.Task;
            if (Volatile.Read(ref _state) == StateDone) return; // lost while streaming
            Volatile.Write(ref _state, StateStopping);
            await CompleteAsync();
        }
        finally
        {
            Volatile.Write(ref _state, StateDone);
            _stop.TrySetResult();
        }
    }

    /// <summary>Drops the sink's object reference; the runner calls it after the run, once late provider frames have landed.</summary>
    public void ReleaseSink()
    {
        if (_sinkReference is not null) _run.Client.DeleteObjectReference<IAudioSink>(_sinkReference);
        _sinkReference = null;
    }

    /// <summary>Asks the session to end normally (ramp down or end of run).</summary>
    public void RequestStop() => _stop.TrySetResult();

    private async Task<bool> CreateAsync()
    {
        var o = _run.Options;
        // Through the gateway's own admission path: region selection, capacity refusal, regional placement.
        CreateSession Command(string region) => new(o.TenantId, $"candidate-{SessionId}", "job-loadtest", ProviderSettings.Default,
            new ConsentFlags(Recording: o.Record, Transcription: true, AiEvaluation: false), region);
        // A retried create whose first attempt did land finds its own session: that is success, not a conflict.
        return await CallAsync(async () =>
        {
            try { await _run.Client.AdmitAndCreateAsync(SessionId, new AdmissionRequest(o.TenantId, null), Command); }
            catch (SessionAlreadyExistsException) { }
        }, "create");
    }

    private async Task CompleteAsync()
    {
        SessionSnapshot? snapshot = null;
        var ok = await CallAsync(async () =>
        {
            try { snapshot = await _grain.Complete(_run.Options.TenantId, "load test finished"); }
            catch (InvalidSessionTransitionException) { snapshot = await _grain.Get(_run.Options.TenantId); } // a retried complete already landed
        }, "complete");
        if (!ok) return;
        if (snapshot!.Status != SessionStatus.Completed)
        {
            _run.Stats.RecordLost($"ended as {snapshot.Status}");
            return;
        }
        try { await _media.DetachMedia(_sinkReference!); } catch (Exception e) when (e is not OutOfMemoryException) { _run.Stats.RecordError(e); }
        Interlocked.Increment(ref _run.Stats.SessionsCompleted);
    }

    /// <summary>Retries a lifecycle call until it succeeds or the retry budget is spent; then the session is lost.</summary>
    private async Task<bool> CallAsync(Func<Task> call, string step)
    {
        var first = Stopwatch.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await call();
                return true;
            }
            catch (Exception e) when (e is not RequestValidationException and not SessionNotFoundException)
            {
                _run.Stats.RecordError(e);
                if (Stopwatch.GetElapsedTime(first) + backoff > _run.Options.RetryBudget)
                {
                    _run.Stats.RecordLost($"{step} kept failing ({e.GetType().Name})");
                    return false;
                }
                await Task.Delay(backoff, _run.Clock);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
            catch (Exception e)
            {
                _run.Stats.RecordError(e);
                _run.Stats.RecordLost($"{step} refused ({e.GetType().Name})");
                return false;
            }
        }
    }

    /// <summary>Pump thread: sends the next candidate frame if it is due. Never blocks.</summary>
    public void PumpIfDue(long now, long frameTicks)
    {
        if (Volatile.Read(ref _state) != StateStreaming || now < _nextDue) return;
        var stats = _run.Stats;
        _nextDue += frameTicks;
        if (now - _nextDue > 5 * frameTicks)
        {
            // The pump fell behind (CPU starved): real time moved on, so skip the frames that were never sent.
            Interlocked.Add(ref stats.FramesLateAtClient, (now - _nextDue) / frameTicks);
            _nextDue = now + frameTicks;
        }
        var failingSince = Interlocked.Read(ref _failingSince);
        if (failingSince != 0 && now - failingSince > _run.RetryBudgetTicks)
        {
            stats.RecordLost("audio kept failing");
            Volatile.Write(ref _state, StateDone);
            _stop.TrySetResult();
            _ = AbandonAsync();
            return;
        }

        bool speaking;
        var utcNow = _run.Clock.GetUtcNow();
        if (_cadence is { } cadence)
        {
            var heard = !_awaitingFlag && now - Volatile.Read(ref _lastProviderFrame) > AnswerHeardQuietTicks;
            var step = cadence.Next(heard);
            speaking = step.Speaking;
            if (step.Starts) StartUtterance(utcNow);
            else if (step.Ends) EndUtterance(utcNow);
        }
        else
        {
            var phase = _phase++ % _cycleFrames;
            speaking = phase < _speechFrames;
            if (phase == 0) StartUtterance(utcNow);
            else if (phase == _speechFrames) EndUtterance(utcNow);
        }

        var sequence = _sequence++;
        var pcm = speaking ? _run.Frames.Speech[sequence % _run.Frames.Speech.Length] : _run.Frames.Silence;
        Interlocked.Increment(ref stats.FramesSent);
        if (Volatile.Read(ref _inFlight) >= MaxFramesInFlight)
        {
            Interlocked.Increment(ref stats.FramesDroppedByClient);
            return;
        }
        Interlocked.Increment(ref _inFlight);
        var sentAt = utcNow.UtcTicks;
        Task push;
        try
        {
            push = _media.PushCandidateAudio(new AudioFrame(sequence, sentAt, pcm));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            push = Task.FromException(e);
        }
        if (push.IsCompletedSuccessfully) OnPushed(sentAt);
        else _ = AwaitPushAsync(push, sentAt);
    }

    private async Task AwaitPushAsync(Task push, long sentAt)
    {
        try
        {
            await push;
            OnPushed(sentAt);
        }
        catch (InvalidSessionTransitionException) when (Volatile.Read(ref _state) != StateStreaming)
        {
            // The pump sent this frame in the instant the session was being completed: the tester's race, not a lost frame.
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _run.Stats.FramesAfterEnd);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _run.Stats.FramesFailed);
            _run.Stats.RecordError(e);
            Interlocked.CompareExchange(ref _failingSince, Stopwatch.GetTimestamp(), 0);
        }
    }

    private void OnPushed(long sentAtUtcTicks)
    {
        Interlocked.Decrement(ref _inFlight);
        var stats = _run.Stats;
        Interlocked.Increment(ref stats.FramesAcked);
        stats.RecordAudioLatency(stats.Inbound, (_run.Clock.GetUtcNow().UtcTicks - sentAtUtcTicks) / 10);
        var since = Interlocked.Exchange(ref _failingSince, 0);
        if (since != 0)
        {
            stats.Outages.Enqueue(new Outage(SessionId, _run.SecondsAt(since), _run.SecondsAt(Stopwatch.GetTimestamp())));
            // The session may have been re-activated on a survivor, which does not know this client's sink yet.
            if (Interlocked.Exchange(ref _reattaching, 1) == 0) _ = ReattachAsync();
        }
    }

    /// <summary>A lost session is still ended once, best effort, so the cluster does not keep its provider talking to nobody.</summary>
    private async Task AbandonAsync()
    {
        try { await _grain.Complete(_run.Options.TenantId, "load test gave up on this session"); }
        catch (Exception e) when (e is not OutOfMemoryException) { _run.Stats.RecordError(e); }
    }

    private async Task ReattachAsync()
    {
        try
        {
            await _media.AttachMedia(_sinkReference!);
            _run.AudioGaps?.OnReattached(SessionId);
        }
        catch (Exception e) when (e is not OutOfMemoryException) { _run.Stats.RecordError(e); }
        finally { Volatile.Write(ref _reattaching, 0); }
    }

    private void StartUtterance(DateTimeOffset now)
    {
        lock (_audioLock)
        {
            if (_awaitingReply)
            {
                Interlocked.Increment(ref _run.Stats.TurnsUnanswered); // the provider never answered the last one
                _unansweredAtUtcTicks.Add(_turnEndUtcTicks);
            }
            _awaitingReply = false;
            _awaitingFlag = false;
            CloseAnswer();
        }
        _utteranceStart = now;
    }

    private void EndUtterance(DateTimeOffset now)
    {
        var stats = _run.Stats;
        var utterance = Interlocked.Increment(ref stats.Utterances);
        lock (_audioLock)
        {
            _turnEndUtcTicks = now.UtcTicks;
            _awaitingReply = true;
            _awaitingFlag = true;
        }
        _run.AudioGaps?.OnUtteranceEnded(SessionId);
        if (_run.Options.RecordTurns && _utteranceStart != default)
            _ = RecordTurnAsync(new Turn(ParticipantRole.Candidate, $"load test utterance {utterance}", _utteranceStart, now));
    }

    private async Task RecordTurnAsync(Turn turn)
    {
        try
        {
            await _grain.RecordTurn(turn);
            Interlocked.Increment(ref _run.Stats.TurnsRecorded);
        }
        catch (Exception e) when (e is not OutOfMemoryException) { _run.Stats.RecordError(e); }
    }

    Task IAudioSink.OnProviderAudio(AudioFrame frame)
    {
        var stats = _run.Stats;
        var nowTicks = _run.Clock.GetUtcNow().UtcTicks;
        Interlocked.Increment(ref stats.FramesReceived);
        stats.RecordAudioLatency(stats.Outbound, (nowTicks - frame.SentAtUtcTicks) / 10);
        _run.AudioGaps?.OnProviderFrame(SessionId);
        lock (_audioLock)
        {
            // A new provider connection (resume, reconnect, failover) numbers its audio from 1 again.
            if (_epochFirst < 0 || (frame.Sequence == 1 && _epochReceived > 0) || frame.Sequence + 50 < _epochMax)
            {
                CloseEpoch();
                _epochFirst = frame.Sequence;
            }
            if (frame.Sequence > _epochMax) _epochMax = frame.Sequence;
            _epochReceived++;
            Volatile.Write(ref _lastProviderFrame, Stopwatch.GetTimestamp());
            if (_awaitingReply)
            {
                _awaitingReply = false;
                _awaitingFlag = false;
                Interlocked.Increment(ref stats.TurnsAnswered);
                stats.Turn.RecordMicros((nowTicks - _turnEndUtcTicks) / 10);
                CloseAnswer();
                _answerStart = _answerLast = nowTicks;
                _answerMaxGap = 0;
                _answerMaxGapEnd = nowTicks;
                _answerReply = nowTicks - _turnEndUtcTicks;
                _answerUtteranceEnd = _turnEndUtcTicks;
            }
            else if (_answerStart != 0)
            {
                var gap = nowTicks - _answerLast;
                if (gap > _answerMaxGap) (_answerMaxGap, _answerMaxGapEnd) = (gap, nowTicks);
                if (gap >= SilenceFloor.Ticks) _silences.Add(new Silence(_answerStart, nowTicks, gap / 10_000.0));
                _answerLast = nowTicks;
            }
        }
        return Task.CompletedTask;
    }

    Task IAudioSink.OnBargeIn(long lastSequence) => Task.CompletedTask; // nothing queued here: frames are counted as they come

    Task IAudioSink.OnTranscript(Turn turn)
    {
        Interlocked.Increment(ref _run.Stats.Transcripts);
        Interlocked.Increment(ref _transcripts);
        if (turn.Speaker == ParticipantRole.Agent) _run.AudioGaps?.OnAgentTranscript(SessionId);
        return Task.CompletedTask;
    }

    /// <summary>Folds the provider frames missing from the current sequence run into the run's gap count.</summary>
    public void CloseEpoch()
    {
        lock (_audioLock)
        {
            if (_epochFirst >= 0)
            {
                var missing = _epochMax - _epochFirst + 1 - _epochReceived;
                if (missing > 0) Interlocked.Add(ref _run.Stats.ProviderGaps, missing);
            }
            _epochFirst = -1;
            _epochMax = -1;
            _epochReceived = 0;
        }
    }

    /// <summary>Under _audioLock: the answer being heard is over (the next utterance started, or the run asks).</summary>
    private void CloseAnswer()
    {
        if (_answerStart == 0) return;
        _answers.Add(new AnswerRecord(_answerStart, _answerLast, _answerMaxGap / 10_000.0, _answerReply / 10_000.0, _answerUtteranceEnd, _answerMaxGapEnd));
        _answerStart = 0;
    }

    private static long MicrosSince(long timestamp) => (long)Stopwatch.GetElapsedTime(timestamp).TotalMicroseconds;
}

/// <summary>
/// One agent answer as the client heard it (UTC ticks): its longest silence between two frames (ending at
/// <paramref name="MaxGapEndUtcTicks"/>), and its latency after the utterance it answers.
/// </summary>
public readonly record struct AnswerRecord(long StartUtcTicks, long EndUtcTicks, double MaxGapMs, double ReplyMs, long UtteranceEndUtcTicks, long MaxGapEndUtcTicks = 0)
{
    public long MaxGapStartUtcTicks => MaxGapEndUtcTicks - (long)(MaxGapMs * TimeSpan.TicksPerMillisecond);
}

/// <summary>A silence between two agent frames inside the answer that started at <paramref name="AnswerStartUtcTicks"/>, ending at <paramref name="EndUtcTicks"/>.</summary>
public readonly record struct Silence(long AnswerStartUtcTicks, long EndUtcTicks, double Ms)
{
    public long StartUtcTicks => EndUtcTicks - (long)(Ms * TimeSpan.TicksPerMillisecond);
}

/// <summary>What every session of one run shares.</summary>
public sealed class SessionContext(IClusterClient client, LoadOptions options, RunStats stats, SpeechFrames frames, TimeProvider clock, long runStartTimestamp,
    ChaosAudioGaps? audioGaps = null)
{
    public ChaosAudioGaps? AudioGaps { get; } = audioGaps;
    public IClusterClient Client { get; } = client;
    public LoadOptions Options { get; } = options;
    public RunStats Stats { get; } = stats;
    public SpeechFrames Frames { get; } = frames;
    public TimeProvider Clock { get; } = clock;
    public long RetryBudgetTicks { get; } = (long)(options.RetryBudget.TotalSeconds * Stopwatch.Frequency);

    public double SecondsAt(long timestamp) => (timestamp - runStartTimestamp) / (double)Stopwatch.Frequency;
}
