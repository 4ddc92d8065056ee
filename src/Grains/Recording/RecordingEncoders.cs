using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>
/// The silo's recording encoders: a few dedicated threads (<see cref="RecordingOptions.EncoderThreads"/>), each serving many
/// sessions' recorders every tick. Not the thread pool, which runs the grains: on Linux each thread is reniced
/// (<see cref="RecordingOptions.EncoderNice"/>), so when the cores are short the scheduler gives them to the audio path and
/// the recording is what falls behind. Each thread measures its own CPU time, exported as
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
        LogStarting(o.EncoderThreads, o.EncoderNice, RecordingCodec.Describe(o.Opus));
        _workers = [.. Enumerable.Range(0, o.EncoderThreads).Select(i => new Worker(this, i, o.EncoderNice))];
    }

    public OpusImplementation Implementation { get; }

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
        private readonly List<SessionRecorder> _recorders = [];
        private readonly AutoResetEvent _wake = new(false);
        private readonly Thread _thread;
        private readonly int _nice;

        public Worker(RecordingEncoders owner, int index, int nice)
        {
            _owner = owner;
            _nice = nice;
            _thread = new Thread(Run) { IsBackground = true, Name = $"recording-encoder-{index}" };
            _thread.Start();
        }

        public int Count
        {
            get
            {
                lock (_recorders) return _recorders.Count;
            }
        }

        public void Add(SessionRecorder recorder)
        {
            lock (_recorders) _recorders.Add(recorder);
        }

        public void Wake() => _wake.Set();

        public void Join() => _thread.Join(TimeSpan.FromSeconds(5));

        private void Run()
        {
            Renice();
            var done = new List<SessionRecorder>();
            SessionRecorder[] batch = [];
            while (!_owner._disposed)
            {
                _wake.WaitOne(Tick);
                lock (_recorders)
                {
                    if (batch.Length != _recorders.Count) batch = new SessionRecorder[_recorders.Count];
                    _recorders.CopyTo(batch);
                }
                var cpu = ThreadCpu.Now();
                foreach (var recorder in batch)
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
                lock (_recorders) _recorders.RemoveAll(done.Contains);
                done.Clear();
            }
            // The silo is stopping: every recorder still here ends its encoding now (what is queued is lost, like a crash).
            lock (_recorders)
            {
                foreach (var recorder in _recorders) recorder.Abandon();
                _recorders.Clear();
            }
        }

        private void Renice()
        {
            if (_nice == 0 || !OperatingSystem.IsLinux()) return;
            try
            {
                if (ThreadCpu.setpriority(0 /* PRIO_PROCESS: with a thread id, that thread */, ThreadCpu.gettid(), _nice) != 0)
                    _owner.LogReniceFailed(_thread.Name!, Marshal.GetLastPInvokeError());
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _owner.LogReniceFailed(_thread.Name!, -1);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording: {Threads} encoder threads at nice {Nice}, encoding with {Implementation}")]
    private partial void LogStarting(int threads, int nice, string implementation);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording: an encoder thread dropped a recording it could not pump")]
    private partial void LogPumpFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording: {Thread} could not lower its priority (errno {Errno}); it competes with the audio path as an equal")]
    private partial void LogReniceFailed(string thread, int errno);
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

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    internal static extern int setpriority(int which, int who, int priority);
}
