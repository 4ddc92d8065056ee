using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>What the silo tells a recording worker before anything else: the options (secrets included: over the pipe, never its command line).</summary>
internal sealed record WorkerConfig(RecordingOptions Options, int QuietLevel);

/// <summary>
/// The recording worker: a child process of the silo (the silo's own binary run with <see cref="Argument"/>) that encodes,
/// seals and stores every recording of that silo, every thread of it in Linux' <c>SCHED_IDLE</c> class, so it runs only on
/// CPU the silo leaves idle. In its own process because a starved idle-priority thread inside the silo held the whole silo in
/// every GC (BENCHMARKS.md, #15); a starved worker holds up only itself. It reads the silo's frames from stdin and answers on
/// stdout (<see cref="WorkerMessage"/>); it exits when stdin ends (the silo stopped or died) and is killed by the kernel when
/// the thread that started it does (<c>PR_SET_PDEATHSIG</c>), so no orphan writes a manifest behind a survivor's back.
/// </summary>
public static partial class RecordingWorker
{
    public const string Argument = "--recording-worker";

    /// <summary>The silo's pid, in the worker's environment: a worker whose parent is already gone exits at once.</summary>
    internal const string ParentVariable = "VOICEACTORS_RECORDING_PARENT";

    public static bool IsWorker(IReadOnlyList<string> args) => args.Count > 0 && args[0] == Argument;

    /// <summary>Runs the worker on this process' stdin and stdout until stdin ends; the exit code.</summary>
    public static int Run(ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(RecordingWorker));
        if (OperatingSystem.IsLinux() && !Native.DieWithParent(Environment.GetEnvironmentVariable(ParentVariable)))
        {
            LogOrphan(logger);
            return 0;
        }
        var scheduling = new IdleScheduling();
        using var input = Console.OpenStandardInput();
        using var output = Console.OpenStandardOutput();
        var worker = new Worker(input, output, scheduling, loggers, logger);
        return worker.Run();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording worker: the silo that started it is gone; exiting")]
    private static partial void LogOrphan(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording worker {Pid}: {Threads} encoder threads, scheduling {Scheduling}, encoding with {Implementation}")]
    private static partial void LogStarted(ILogger logger, int pid, int threads, string scheduling, string implementation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording worker: the silo closed the pipe; {Recordings} recordings abandoned")]
    private static partial void LogStopping(ILogger logger, int recordings);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording worker: an encoder thread dropped a recording it could not pump")]
    private static partial void LogPumpFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording worker: threads could not enter SCHED_IDLE (errno {Errno}); niced to 19 instead")]
    private static partial void LogNiced(ILogger logger, int errno);

    private sealed class Worker : IRecordingEvents
    {
        private readonly WorkerFrameReader _reader;
        private readonly Stream _output;
        private readonly IdleScheduling _scheduling;
        private readonly ILoggerFactory _loggers;
        private readonly ILogger _logger;
        private readonly ConcurrentDictionary<uint, RecordingEncoder> _recordings = new();
        private readonly ArrayBufferWriter<byte> _out = new(4096); // under its own lock: events come from encoder and upload threads
        private readonly CounterForwarder _counters = new();
        private EncoderThreads? _encoders;
        private long _now; // the silo's clock, from its Tick messages (0 before the first): frames are placed and encoded on the silo's time

        public Worker(Stream input, Stream output, IdleScheduling scheduling, ILoggerFactory loggers, ILogger logger)
        {
            _reader = new WorkerFrameReader(input);
            _output = output;
            _scheduling = scheduling;
            _loggers = loggers;
            _logger = logger;
        }

        public int Run()
        {
            if (!_reader.Next(out var type, out _, out var payload) || type != WorkerMessage.Config)
                throw new InvalidDataException("the recording worker's first message must be its configuration");
            var config = JsonSerializer.Deserialize<WorkerConfig>(payload) ?? throw new InvalidDataException("an empty recording worker configuration");
            var options = Options.Create(config.Options);
            IRecordingStore store = config.Options.UsesS3 ? new S3RecordingStore(options) : new DirectoryRecordingStore(options);
            var vault = new RecordingVault(store, new RecordingKeys(options), options);
            var threads = Environment.ProcessorCount; // all idle-class: they take every core the silo leaves, and none it wants
            _encoders = new EncoderThreads(threads, () => Volatile.Read(ref _now), e => LogPumpFailed(_logger, e));
            if (_scheduling.Errno != 0) LogNiced(_logger, _scheduling.Errno);
            LogStarted(_logger, Environment.ProcessId, threads, _scheduling.Describe(), RecordingCodec.Describe(config.Options.Opus));
            Send(w => WorkerWire.WriteStrings(w, WorkerMessage.Ready, 0, _scheduling.Describe()));
            var housekeeping = new Thread(Housekeeping) { IsBackground = true, Name = "recording-worker-counters" };
            housekeeping.Start();
            var encoderLogger = _loggers.CreateLogger<RecordingEncoder>();
            while (_reader.Next(out type, out var id, out payload))
            {
                switch (type)
                {
                    case WorkerMessage.Start:
                        var tenant = WorkerWire.ReadString(ref payload);
                        var session = WorkerWire.ReadString(ref payload);
                        var encoder = new RecordingEncoder(id, tenant, session, this, vault, config.QuietLevel, TimeProvider.System, encoderLogger);
                        if (_recordings.TryAdd(id, encoder)) _encoders.Attach(encoder);
                        break;
                    case WorkerMessage.Frame when _recordings.TryGetValue(id, out var recording):
                        var pcm = payload[9..];
                        var pooled = ArrayPool<byte>.Shared.Rent(pcm.Length);
                        pcm.CopyTo(pooled);
                        recording.Offer(pooled, pcm.Length, System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(payload[1..]), payload[0]);
                        break;
                    case WorkerMessage.Tick:
                        Volatile.Write(ref _now, WorkerWire.ReadLong(ref payload));
                        break;
                    case WorkerMessage.Complete when _recordings.TryGetValue(id, out var ending):
                        _ = CompleteAsync(id, ending, TimeSpan.FromTicks(WorkerWire.ReadLong(ref payload)));
                        break;
                }
            }
            // The silo stopped or died: what is in flight is lost, like the in-progress chunk of a crash. A resumed session
            // continues from the manifest, which this process must not write after its silo is gone.
            LogStopping(_logger, _recordings.Count);
            return 0;
        }

        private async Task CompleteAsync(uint id, RecordingEncoder encoder, TimeSpan flushTimeout)
        {
            await encoder.CompleteAsync(flushTimeout);
            _recordings.TryRemove(id, out _);
            Send(w =>
            {
                Span<byte> totals = stackalloc byte[16];
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(totals, encoder.QuietFramesSkipped);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(totals[8..], encoder.FramesDropped);
                WorkerWire.Write(w, WorkerMessage.Completed, id, totals.Length, totals);
            });
        }

        /// <summary>Every second: the counters' deltas to the silo, the process' CPU, and threads born outside the idle class.</summary>
        private void Housekeeping()
        {
            var cpu = Environment.CpuUsage.TotalTime;
            while (true)
            {
                Thread.Sleep(1000);
                _scheduling.Sweep();
                var now = Environment.CpuUsage.TotalTime;
                RecordingMetrics.WorkerCpuSeconds.Add((now - cpu).TotalSeconds);
                cpu = now;
                Send(null);
            }
        }

        void IRecordingEvents.ChunkStored(uint recording) => Send(w => WorkerWire.Write(w, WorkerMessage.ChunkStored, recording, 0));

        void IRecordingEvents.ChunkDropped(uint recording, double seconds, string why) =>
            Send(w => WorkerWire.WriteStrings(w, WorkerMessage.ChunkDropped, recording, seconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture), why));

        void IRecordingEvents.StoreFailed(uint recording, string reason) => Send(w => WorkerWire.WriteStrings(w, WorkerMessage.StoreFailed, recording, reason));

        /// <summary>
        /// Writes the counters' deltas, then the message: the silo adds a drop to its counters before it puts it on the timeline.
        /// A silo that is gone ends the process (stdin ends too, and the kernel kills it anyway).
        /// </summary>
        private void Send(Action<ArrayBufferWriter<byte>>? message)
        {
            lock (_out)
            {
                _counters.Drain(_out);
                message?.Invoke(_out);
                if (_out.WrittenCount == 0) return;
                try
                {
                    _output.Write(_out.WrittenSpan);
                    _output.Flush();
                }
                catch (IOException)
                {
                    Environment.Exit(0);
                }
                _out.ResetWrittenCount();
            }
        }
    }

    /// <summary>
    /// The worker's <c>voice_recording_*</c> counters, summed between sends: the silo adds them to its own, so its <c>/metrics</c>
    /// exports what the worker did (one series each, whichever process counted).
    /// </summary>
    private sealed class CounterForwarder
    {
        private readonly MeterListener _listener = new();
        private readonly double[] _pending = new double[RecordingMetrics.Forwarded.Length];
        private readonly Dictionary<Instrument, int> _index = [];

        public CounterForwarder()
        {
            for (var i = 0; i < RecordingMetrics.Forwarded.Length; i++) _index[RecordingMetrics.Forwarded[i]] = i;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (_index.ContainsKey(instrument)) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument, value));
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument, value));
            _listener.Start();
        }

        private void Add(Instrument instrument, double value)
        {
            lock (_pending) _pending[_index[instrument]] += value;
        }

        /// <summary>A Counters message of what changed since the last one (pairs of u8 index, f64 delta), or nothing.</summary>
        public void Drain(IBufferWriter<byte> output)
        {
            Span<byte> payload = stackalloc byte[9 * RecordingMetrics.Forwarded.Length];
            var n = 0;
            lock (_pending)
            {
                for (var i = 0; i < _pending.Length; i++)
                {
                    if (_pending[i] == 0) continue;
                    payload[n] = (byte)i;
                    System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(payload[(n + 1)..], _pending[i]);
                    n += 9;
                    _pending[i] = 0;
                }
            }
            if (n > 0) WorkerWire.Write(output, WorkerMessage.Counters, 0, n, payload[..n]);
        }
    }

    /// <summary>
    /// A few dedicated threads, each serving many recordings every tick: placement, encoding and Ogg packaging. Each measures
    /// its own CPU time (<c>voice_recording_encode_cpu_seconds_total</c>).
    /// </summary>
    private sealed class EncoderThreads
    {
        private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
        private readonly Pump[] _pumps;

        public EncoderThreads(int count, Func<long> now, Action<Exception> failed) =>
            _pumps = [.. Enumerable.Range(0, count).Select(i => new Pump(i, now, failed))];

        public void Attach(RecordingEncoder encoder) => _pumps.MinBy(p => p.Count)!.Add(encoder);

        private sealed class Pump
        {
            private readonly List<RecordingEncoder> _encoders = []; // this thread's only
            private readonly ConcurrentQueue<RecordingEncoder> _added = new();
            private readonly AutoResetEvent _wake = new(false);
            private readonly Func<long> _now;
            private readonly Action<Exception> _failed;
            private int _count;

            public Pump(int index, Func<long> now, Action<Exception> failed)
            {
                _now = now;
                _failed = failed;
                new Thread(Run) { IsBackground = true, Name = $"recording-encoder-{index}" }.Start();
            }

            public int Count => Volatile.Read(ref _count);

            public void Add(RecordingEncoder encoder)
            {
                Interlocked.Increment(ref _count);
                encoder.Wake = () => _wake.Set();
                _added.Enqueue(encoder);
                _wake.Set();
            }

            private void Run()
            {
                var done = new List<RecordingEncoder>();
                while (true)
                {
                    _wake.WaitOne(Tick);
                    while (_added.TryDequeue(out var added)) _encoders.Add(added);
                    var cpu = Native.ThreadCpuNanoseconds();
                    var now = _now();
                    foreach (var encoder in _encoders)
                    {
                        try
                        {
                            if (encoder.Pump(now)) done.Add(encoder);
                        }
                        catch (Exception e)
                        {
                            _failed(e); // Pump handles its own failures; an exception escaping a thread would end the process
                            done.Add(encoder);
                        }
                    }
                    if (cpu >= 0) RecordingMetrics.EncodeCpuSeconds.Add((Native.ThreadCpuNanoseconds() - cpu) / 1e9);
                    if (done.Count == 0) continue;
                    _encoders.RemoveAll(done.Contains);
                    Interlocked.Add(ref _count, -done.Count);
                    done.Clear();
                }
            }
        }
    }
}

/// <summary>
/// Puts every thread of this process in <c>SCHED_IDLE</c> (lowering needs no privilege), or at nice 19 where that is refused.
/// Threads the runtime started before <see cref="RecordingWorker.Run"/> are moved one by one; a thread inherits its creator's
/// class, and a sweep every second catches any that did not.
/// </summary>
internal sealed class IdleScheduling
{
    private readonly HashSet<int> _done = [];

    public IdleScheduling() => Sweep();

    /// <summary>0 while SCHED_IDLE works; the errno that refused it once it did not (threads are niced instead).</summary>
    public int Errno { get; private set; }

    public bool Supported => OperatingSystem.IsLinux();

    public string Describe() => !Supported ? "normal (an idle scheduling class is implemented on Linux only)"
        : Errno == 0 ? "SCHED_IDLE" : $"nice 19 (SCHED_IDLE refused with errno {Errno})";

    public void Sweep()
    {
        if (!Supported) return;
        for (var pass = 0; pass < 3; pass++)
        {
            var moved = false;
            foreach (var directory in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var tid) || _done.Contains(tid)) continue;
                if (Errno == 0 && !Native.EnterIdle(tid, out var errno))
                {
                    if (errno == 3) continue; // ESRCH: the thread ended meanwhile
                    Errno = errno;
                }
                if (Errno != 0) Native.Nice(tid, 19);
                _done.Add(tid);
                moved = true;
            }
            if (!moved) break; // a pass that met no new thread: none was being born meanwhile
        }
    }
}

/// <summary>The Linux calls the worker needs (each guarded: elsewhere they are not made).</summary>
internal static class Native
{
    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID
    private const int SchedIdle = 5; // SCHED_IDLE, linux/sched.h
    private const int PrSetPdeathsig = 1; // PR_SET_PDEATHSIG
    private const int SigKill = 9;

    /// <summary>Nanoseconds of CPU this thread has used, or -1 when the platform cannot say.</summary>
    public static long ThreadCpuNanoseconds()
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

    public static bool EnterIdle(int tid, out int errno)
    {
        var param = default(SchedParam);
        var ok = sched_setscheduler(tid, SchedIdle, ref param) == 0;
        errno = ok ? 0 : Math.Max(1, Marshal.GetLastPInvokeError());
        return ok;
    }

    public static void Nice(int tid, int nice) => _ = setpriority(0, tid, nice); // PRIO_PROCESS with a thread id: that thread

    /// <summary>
    /// SIGKILL when the silo's thread that started this process ends; false when the silo is already gone (the parent pid
    /// the silo wrote down is no longer this process' parent).
    /// </summary>
    public static bool DieWithParent(string? parent)
    {
        _ = prctl(PrSetPdeathsig, SigKill, 0, 0, 0);
        return parent is null || !int.TryParse(parent, out var pid) || getppid() == pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority; // sched_priority: 0 for SCHED_IDLE
    }

    // DllImport, not LibraryImport: every argument is blittable, and the generator would need unsafe code in the project.
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out Timespec time);

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int sched_setscheduler(int pid, int policy, ref SchedParam param);

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int setpriority(int which, int who, int prio);

    [DllImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static extern int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [DllImport("libc", EntryPoint = "getppid")]
    private static extern int getppid();
}
