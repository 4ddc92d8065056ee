using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VoiceActors.Media;

namespace VoiceActors.Recording;

/// <summary>Where a session's recording goes and who hears about dropped chunks (the session, as a timeline event).</summary>
public sealed record RecordingTarget(string TenantId, string SessionId, ISessionMediaEvents Session);

/// <summary>
/// One session's recording, the silo's side of it. The hot path (<see cref="Candidate"/>, <see cref="Agent"/>) only writes the
/// frame's reference and its arrival time into a bounded lock-free queue: no copy, no lock, and a full queue drops the frame with
/// a count. The silo's recording writer (<see cref="RecordingWorkerHost"/>) drains it into the recording worker process, which
/// encodes, seals and stores (<see cref="RecordingEncoder"/>) and tells this recorder what became of each chunk; a dropped
/// chunk goes to the session's timeline. The interview never waits for any of it.
/// </summary>
public sealed partial class SessionRecorder : IAsyncDisposable
{
    public const string ChunkDroppedKind = "recording.chunk_dropped";
    public const string StoreFailedKind = "recording.store_failed";
    private const int CandidateLane = 0;

    private readonly RecordingWorkerHost _host;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Frame> _frames = new();
    private readonly int _frameLimit;
    private readonly TimeSpan _flushTimeout;
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _framesQueued;
    private volatile bool _completing;
    private long _framesDropped;
    private long _quietSkipped;
    private long _chunksDropped;
    private long _chunksStored;

    internal SessionRecorder(uint id, RecordingTarget target, RecordingWorkerHost host, RecordingOptions options, TimeProvider clock, ILogger logger)
    {
        Id = id;
        Target = target;
        _host = host;
        _clock = clock;
        _logger = logger;
        _frameLimit = options.FrameQueue;
        _flushTimeout = options.FlushTimeout;
    }

    internal uint Id { get; }

    internal RecordingTarget Target { get; }

    /// <summary>The writer thread's: the worker generation this recording was started on, and whether that one was told it ends.</summary>
    internal int StartedOn { get; set; } = -1;

    internal bool CompleteSent { get; set; }

    internal bool Completing => _completing;

    internal TimeSpan FlushTimeout => _flushTimeout;

    public long FramesDropped => Interlocked.Read(ref _framesDropped);
    public long ChunksDropped => Interlocked.Read(ref _chunksDropped);
    public long QuietFramesSkipped => Interlocked.Read(ref _quietSkipped);
    public long ChunksStored => Interlocked.Read(ref _chunksStored);

    /// <summary>The hot path: one candidate frame as it arrived.</summary>
    public void Candidate(AudioFrame frame) => Offer(frame.Pcm, CandidateLane);

    /// <summary>The hot path: one agent frame as the provider produced it.</summary>
    public void Agent(AudioFrame frame) => Offer(frame.Pcm, 1);

    private void Offer(byte[] pcm, int lane)
    {
        if (_completing) return;
        if (Interlocked.Increment(ref _framesQueued) <= _frameLimit)
        {
            _frames.Enqueue(new Frame(pcm, _clock.GetUtcNow().UtcTicks, lane));
            return;
        }
        Interlocked.Decrement(ref _framesQueued);
        Interlocked.Increment(ref _framesDropped);
        RecordingMetrics.FramesDropped.Add(1);
    }

    /// <summary>The writer thread: the next frame for the worker.</summary>
    internal bool TryTake(out Frame frame)
    {
        if (!_frames.TryDequeue(out frame)) return false;
        Interlocked.Decrement(ref _framesQueued);
        return true;
    }

    /// <summary>
    /// The worker encodes what is queued and stores the last chunk and the manifest, bounded by
    /// <see cref="RecordingOptions.FlushTimeout"/> there; this waits that long and two seconds more (a worker starved or restarting).
    /// </summary>
    public async Task CompleteAsync()
    {
        if (_completing) return;
        _completing = true;
        _host.Wake();
        var waited = _completed.Task;
        if (await Task.WhenAny(waited, Task.Delay(_flushTimeout + TimeSpan.FromSeconds(2), _clock)) != waited)
        {
            LogFlushTimedOut(Target.SessionId, _flushTimeout);
            _host.Forget(this);
        }
    }

    public async ValueTask DisposeAsync() => await CompleteAsync();

    // ---- What the worker says (the host's reader thread)

    internal void OnChunkStored() => Interlocked.Increment(ref _chunksStored);

    internal void OnChunkDropped(double seconds, string why)
    {
        Interlocked.Increment(ref _chunksDropped);
        _ = NotifyAsync(new ProviderEvent(ChunkDroppedKind, "recorder", $"{seconds:0.#} s of recording lost: {why}"));
    }

    internal void OnCompleted(long quietSkipped, long framesDropped)
    {
        Interlocked.Add(ref _quietSkipped, quietSkipped);
        Interlocked.Add(ref _framesDropped, framesDropped);
        _completed.TrySetResult();
    }

    private async Task NotifyAsync(ProviderEvent e)
    {
        try
        {
            await Target.Session.OnProviderEvent(e);
        }
        catch (Exception)
        {
            // the session is gone or ending: the counter still has it
        }
    }

    /// <summary>A frame's reference (the relay does not reuse it) and when it arrived, UTC ticks.</summary>
    internal readonly record struct Frame(byte[] Pcm, long AtTicks, int Lane);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: the recording worker did not confirm the recording's last chunks within {Timeout}")]
    private partial void LogFlushTimedOut(string sessionId, TimeSpan timeout);
}

/// <summary>Starts a session's recorder on the silo's recording worker.</summary>
public sealed class SessionRecorders(RecordingWorkerHost host)
{
    public SessionRecorder Start(RecordingTarget target) => host.Start(target);
}
