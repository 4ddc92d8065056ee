using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>
/// The silo's recording encoders: a few dedicated threads (<see cref="RecordingOptions.EncoderThreads"/>), each serving many
/// sessions' recorders every tick. Not the thread pool, which runs the grains, and by default one fewer than the cores, so
/// the audio path always has a core the encoders do not take. Not niced by default (<see cref="RecordingOptions.EncoderPriority"/>):
/// a GC suspends every managed thread, and a low-priority encoder that does not get a core holds the whole silo in the GC
/// (measured: nice 10 made gen0 GCs 11-16 ms at p50 on a contended core, SCHED_IDLE 0.2-3.4 s). The threads take no lock
/// the audio path or the thread pool also takes, so a preempted encoder never holds them up. Each thread measures its own
/// CPU time, exported as
/// <c>voice_recording_encode_cpu_seconds_total</c> (encoding and Ogg packaging, not sealing or storing).
/// </summary>
public sealed partial class RecordingEncoders : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private readonly Worker[] _workers;
    private readonly ILogger _logger;
    private volatile bool _disposed;

    public RecordingEncoders(IOptions<RecordingOptions> options, ILogger<RecordingEncoders> logger)
    {
        var o = options.Value;
        _logger = logger;
        Implementation = o.Opus;
        LogStarting(o.EncoderThreads, o.EncoderPriority, RecordingCodec.Describe(o.Opus));
        _workers = [.. Enumerable.Range(0, o.EncoderThreads).Select(i => new Worker(this, i, o.EncoderPriority))];
    }

    public OpusImplementation Implementation { get; }

    /// <summary>The encoder threads' kernel thread ids once they have started (Linux; empty elsewhere): for diagnostics and tests.</summary>
    public IReadOnlyList<int> ThreadIds => [.. _workers.Select(w => w.ThreadId).Where(id => id > 0)];

    /// <summary>Hands a recorder to the thread with the fewest; it is pumped from the next tick until it says it is done.</summary>
    internal Action Attach(SessionRecorder recorder)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var worker = _workers.MinBy(w => w.Count)!;
        worker.Add(recorder);
        return worker.Wake;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var w in _workers) w.Wake();
        foreach (var w in _workers) w.Join();
    }

    private sealed class Worker
    {
        private readonly RecordingEncoders _owner;
        private readonly List<SessionRecorder> _recorders = []; // this thread's only
        private readonly System.Collections.Concurrent.ConcurrentQueue<SessionRecorder> _added = new(); // lock-free hand-over
        private readonly AutoResetEvent _wake = new(false);
        private readonly Thread _thread;
        private readonly EncoderPriority _priority;
        private int _count;
        private int _tid;

        public Worker(RecordingEncoders owner, int index, EncoderPriority priority)
        {
            _owner = owner;
            _priority = priority;
            _thread = new Thread(Run) { IsBackground = true, Name = $"recording-encoder-{index}" };
            _thread.Start();
        }

        public int Count => Volatile.Read(ref _count);

        public int ThreadId => Volatile.Read(ref _tid);

        public void Add(SessionRecorder recorder)
        {
            Interlocked.Increment(ref _count);
            _added.Enqueue(recorder);
        }

        public void Wake() => _wake.Set();

        public void Join() => _thread.Join(TimeSpan.FromSeconds(5));

        private void Run()
        {
            SetPriority();
            var done = new List<SessionRecorder>();
            while (!_owner._disposed)
            {
                _wake.WaitOne(Tick);
                while (_added.TryDequeue(out var added)) _recorders.Add(added);
                var cpu = ThreadCpu.Now();
                foreach (var recorder in _recorders)
                {
                    try
                    {
                        if (recorder.Pump()) done.Add(recorder);
                    }
                    catch (Exception e)
                    {
                        // Pump handles its own failures; this is the last guard: an exception escaping a thread ends the process.
                        _owner.LogPumpFailed(e);
                        done.Add(recorder);
                    }
                }
                if (cpu >= 0) RecordingMetrics.EncodeCpuSeconds.Add((ThreadCpu.Now() - cpu) / 1e9);
                if (done.Count == 0) continue;
                _recorders.RemoveAll(done.Contains);
                Interlocked.Add(ref _count, -done.Count);
                done.Clear();
            }
            // The silo is stopping: every recorder still here ends its encoding now (what is queued is lost, like a crash).
            while (_added.TryDequeue(out var added)) _recorders.Add(added);
            foreach (var recorder in _recorders) recorder.Abandon();
            _recorders.Clear();
        }

        private void SetPriority()
        {
            if (!OperatingSystem.IsLinux())
            {
                if (_priority != EncoderPriority.Normal) _owner.LogPriorityUnsupported(_thread.Name!);
                return;
            }
            try
            {
                Volatile.Write(ref _tid, ThreadCpu.gettid());
                if (_priority == EncoderPriority.Normal) return;
                // With a thread id, sched_setscheduler sets that thread only; lowering to SCHED_IDLE needs no privilege.
                var param = default(ThreadCpu.SchedParam);
                if (ThreadCpu.sched_setscheduler(_tid, ThreadCpu.SchedIdle, ref param) != 0)
                    _owner.LogPriorityFailed(_thread.Name!, Marshal.GetLastPInvokeError());
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _owner.LogPriorityFailed(_thread.Name!, -1);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording: {Threads} encoder threads at priority {Priority}, encoding with {Implementation}")]
    private partial void LogStarting(int threads, EncoderPriority priority, string implementation);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording: an encoder thread dropped a recording it could not pump")]
    private partial void LogPumpFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording: {Thread} could not enter SCHED_IDLE (errno {Errno}); it competes with the audio path as an equal")]
    private partial void LogPriorityFailed(string thread, int errno);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording: {Thread} runs at normal priority: an idle scheduling class is implemented on Linux only; it competes with the audio path as an equal")]
    private partial void LogPriorityUnsupported(string thread);
}

/// <summary>The calling thread's CPU time from the kernel (Linux; -1 elsewhere), and the thread calls the encoders need.</summary>
internal static class ThreadCpu
{
    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    /// <summary>Nanoseconds of CPU this thread has used, or -1 when the platform cannot say.</summary>
    public static long Now()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try
        {
            return clock_gettime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds * 1_000_000_000 + t.Nanoseconds : -1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // DllImport, not LibraryImport: every argument is blittable, and the generator would need unsafe code in the project.
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out Timespec time);

    [DllImport("libc", EntryPoint = "gettid")]
    internal static extern int gettid();

    internal const int SchedIdle = 5; // SCHED_IDLE, linux/sched.h

    [StructLayout(LayoutKind.Sequential)]
    internal struct SchedParam
    {
        public int Priority; // sched_priority: 0 for SCHED_IDLE
    }

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    internal static extern int sched_setscheduler(int pid, int policy, ref SchedParam param);
}
