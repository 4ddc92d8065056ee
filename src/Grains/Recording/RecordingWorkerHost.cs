using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Media;

namespace VoiceActors.Recording;

/// <summary>
/// How to start the recording worker: the silo's own binary with <see cref="RecordingWorker.Argument"/> (one deployable, and
/// the worker runs exactly the code and settings the silo was built with).
/// </summary>
public sealed record RecordingWorkerLaunch(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>The framework-dependent <paramref name="assemblyPath"/> run by the dotnet host that runs this process.</summary>
    public static RecordingWorkerLaunch ForAssembly(string assemblyPath) => new(DotnetHost(), [assemblyPath, RecordingWorker.Argument]);

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        // An apphost or test host: the muxer sits three levels above the shared runtime (dotnet/shared/Microsoft.NETCore.App/<version>).
        var muxer = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"));
        return File.Exists(muxer) ? muxer : "dotnet";
    }
}

/// <summary>
/// The silo's recording worker (<see cref="RecordingWorker"/>), started with the first recording and supervised: a worker that
/// dies is started again after a backoff, and every recording still running is started on the new one (it continues from the
/// manifest: the chunk in progress is lost, the frames queued meanwhile are not). One writer thread, at normal priority and
/// taking no lock the audio path takes, drains every recorder's queue into the worker's stdin every 20 ms, one write per batch;
/// a worker that does not keep up blocks only this thread, and the recorders' bounded queues drop (counted). One reader thread
/// takes the worker's answers back to the recorders and the silo's counters.
/// </summary>
public sealed partial class RecordingWorkerHost : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan BackoffInitial = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan BackoffReset = TimeSpan.FromMinutes(1); // a worker that ran this long was healthy: start over
    private const int BatchBytes = 60 * 1024;

    private readonly RecordingWorkerLaunch _launch;
    private readonly RecordingOptions _options;
    private readonly int _quietLevel;
    private readonly TimeProvider _clock;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<uint, SessionRecorder> _recorders = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly ArrayBufferWriter<byte> _batch = new(BatchBytes + 4096); // the writer thread's only
    private readonly object _startGate = new();
    private Thread? _writer;
    private Child? _child; // the writer thread's
    private int _generation;
    private int _crashes;
    private long _backoffUntil;
    private uint _nextId;
    private volatile bool _disposed;

    public RecordingWorkerHost(RecordingWorkerLaunch launch, IOptions<RecordingOptions> options, IOptions<MediaRelayOptions> media, TimeProvider clock, ILoggerFactory loggers)
    {
        _launch = launch;
        _options = options.Value;
        _quietLevel = media.Value.SpeechLevel; // what the relay does not count as speech is a pause the recorder may shorten
        _clock = clock;
        _loggers = loggers;
        _logger = loggers.CreateLogger<RecordingWorkerHost>();
    }

    /// <summary>The running worker's pid, 0 when there is none (not started yet, or between a crash and its restart).</summary>
    public int WorkerPid => _child is { Exited: false } c ? c.Pid : 0;

    /// <summary>The worker's scheduling as it reported it ("SCHED_IDLE", or the fallback), null before it is ready.</summary>
    public string? WorkerScheduling => _child?.Scheduling;

    public SessionRecorder Start(RecordingTarget target)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var recorder = new SessionRecorder(Interlocked.Increment(ref _nextId), target, this, _options, _clock, _loggers.CreateLogger<SessionRecorder>());
        _recorders[recorder.Id] = recorder;
        EnsureWriter();
        _wake.Set();
        return recorder;
    }

    internal void Wake() => _wake.Set();

    /// <summary>A recording the worker did not confirm in time: its frames still queued are left for the collector.</summary>
    internal void Forget(SessionRecorder recorder) => _recorders.TryRemove(recorder.Id, out _);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _wake.Set();
        _writer?.Join(TimeSpan.FromSeconds(5));
    }

    private void EnsureWriter()
    {
        if (_writer is not null) return;
        lock (_startGate)
        {
            if (_writer is not null) return;
            // The worker is started from this thread, which lives as long as the host: PR_SET_PDEATHSIG in the worker fires when
            // the thread that forked it ends, so it must not be a pool thread that may retire.
            var writer = new Thread(WriteLoop) { IsBackground = true, Name = "recording-writer" };
            writer.Start();
            _writer = writer;
        }
    }

    // ---- The writer thread

    private void WriteLoop()
    {
        while (!_disposed)
        {
            _wake.WaitOne(Tick);
            if (_disposed) break;
            if (_recorders.IsEmpty) continue;
            if (Supervise() is not { } child) continue;
            try
            {
                WriteBatch(child);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                child.Exited = true; // its reader sees the end too; the next turn restarts it
            }
        }
        _child?.Stop();
    }

    /// <summary>The live worker; a new one once a dead one's backoff is over; null while there is none.</summary>
    private Child? Supervise()
    {
        if (_child is { Exited: true } dead)
        {
            _child = null;
            RecordingMetrics.WorkerRestarts.Add(1);
            if (_clock.GetElapsedTime(dead.StartedAt) >= BackoffReset) _crashes = 0;
            _crashes++;
            var delay = TimeSpan.FromTicks(Math.Min(BackoffMax.Ticks, BackoffInitial.Ticks * (1L << Math.Min(20, _crashes - 1))));
            _backoffUntil = _clock.GetTimestamp() + (long)(delay.TotalSeconds * _clock.TimestampFrequency);
            LogCrashed(dead.Pid, dead.ExitCode, _recorders.Count, delay);
        }
        if (_child is not null) return _child;
        if (_clock.GetTimestamp() < _backoffUntil) return null;
        try
        {
            _child = Child.Start(this, ++_generation);
            LogStarted(_child.Pid, _child.Generation);
            return _child;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            LogStartFailed(_launch.FileName, e);
            _crashes++;
            _backoffUntil = _clock.GetTimestamp() + (long)(BackoffMax.TotalSeconds * _clock.TimestampFrequency);
            return null;
        }
    }

    private void WriteBatch(Child child)
    {
        foreach (var recorder in _recorders.Values)
        {
            if (recorder.StartedOn != child.Generation)
            {
                WorkerWire.WriteStrings(_batch, WorkerMessage.Start, recorder.Id, recorder.Target.TenantId, recorder.Target.SessionId);
                recorder.StartedOn = child.Generation;
                recorder.CompleteSent = false;
            }
            var ending = recorder.Completing; // read before draining: the recorder takes no frame after it
            while (recorder.TryTake(out var frame))
            {
                WorkerWire.WriteFrame(_batch, recorder.Id, frame.Lane, frame.AtTicks, frame.Pcm);
                if (_batch.WrittenCount >= BatchBytes) child.Write(_batch);
            }
            if (ending && !recorder.CompleteSent)
            {
                WorkerWire.WriteLong(_batch, WorkerMessage.Complete, recorder.Id, recorder.FlushTimeout.Ticks);
                recorder.CompleteSent = true;
            }
        }
        WorkerWire.WriteLong(_batch, WorkerMessage.Tick, 0, _clock.GetUtcNow().UtcTicks);
        child.Write(_batch);
    }

    // ---- The reader thread (one per worker)

    private void OnMessage(Child child, WorkerMessage type, uint id, ReadOnlySpan<byte> payload)
    {
        _recorders.TryGetValue(id, out var recorder);
        switch (type)
        {
            case WorkerMessage.Ready:
                child.Scheduling = WorkerWire.ReadString(ref payload);
                LogReady(child.Pid, child.Scheduling);
                break;
            case WorkerMessage.Counters:
                for (; payload.Length >= 9; payload = payload[9..])
                    RecordingMetrics.AddForwarded(payload[0], System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(payload[1..]));
                break;
            case WorkerMessage.ChunkStored:
                recorder?.OnChunkStored();
                break;
            case WorkerMessage.ChunkDropped:
                var seconds = double.Parse(WorkerWire.ReadString(ref payload), CultureInfo.InvariantCulture);
                recorder?.OnChunkDropped(seconds, WorkerWire.ReadString(ref payload));
                break;
            case WorkerMessage.StoreFailed:
                LogStoreFailed(recorder?.Target.SessionId ?? "?", WorkerWire.ReadString(ref payload));
                break;
            case WorkerMessage.Completed when recorder is not null:
                _recorders.TryRemove(id, out _);
                recorder.OnCompleted(WorkerWire.ReadLong(ref payload), WorkerWire.ReadLong(ref payload));
                break;
        }
    }

    private byte[] ConfigMessage()
    {
        var options = JsonSerializer.Deserialize<RecordingOptions>(JsonSerializer.SerializeToUtf8Bytes(_options))!; // a copy
        options.Directory = _options.ResolvedDirectory; // resolved once, here: both processes use the same directory
        var json = JsonSerializer.SerializeToUtf8Bytes(new WorkerConfig(options, _quietLevel));
        var message = new ArrayBufferWriter<byte>(json.Length + WorkerWire.HeaderBytes);
        WorkerWire.Write(message, WorkerMessage.Config, 0, json.Length, json);
        return message.WrittenSpan.ToArray();
    }

    /// <summary>One worker process and its pipes.</summary>
    private sealed class Child
    {
        private readonly RecordingWorkerHost _host;
        private readonly Process _process;
        private readonly Stream _stdin;

        private Child(RecordingWorkerHost host, Process process, int generation)
        {
            _host = host;
            _process = process;
            _stdin = process.StandardInput.BaseStream;
            Generation = generation;
            Pid = process.Id;
            StartedAt = host._clock.GetTimestamp();
            new Thread(ReadLoop) { IsBackground = true, Name = $"recording-reader-{generation}" }.Start();
            _ = Task.Run(LogLoopAsync);
        }

        public int Pid { get; }
        public int Generation { get; }
        public long StartedAt { get; }
        public volatile bool Exited;
        public volatile string? Scheduling;

        public int ExitCode => _process.HasExited ? _process.ExitCode : -1;

        public static Child Start(RecordingWorkerHost host, int generation)
        {
            var info = new ProcessStartInfo(host._launch.FileName)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in host._launch.Arguments) info.ArgumentList.Add(argument);
            info.Environment[RecordingWorker.ParentVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            info.Environment["DOTNET_gcServer"] = "0"; // a small heap of its own, whatever the silo runs with
            info.Environment["DOTNET_TieredPGO"] = "0"; // fewer JIT passes for a process that runs one loop
            // Idle thread-pool workers block at once instead of spinning: a profile of S3 uploads spent ~20 % of the process in
            // that spin (sched_yield), CPU that keeps a saturated machine's cores from the silo (BENCHMARKS.md, #15).
            info.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
            var process = Process.Start(info) ?? throw new InvalidOperationException($"{host._launch.FileName} did not start");
            var child = new Child(host, process, generation);
            child._stdin.Write(host.ConfigMessage()); // secrets travel here, never on the command line
            child._stdin.Flush();
            return child;
        }

        public void Write(ArrayBufferWriter<byte> batch)
        {
            if (batch.WrittenCount == 0) return;
            try
            {
                _stdin.Write(batch.WrittenSpan);
                _stdin.Flush();
            }
            finally
            {
                batch.ResetWrittenCount(); // a failed batch is lost with the worker, like its chunk in progress
            }
        }

        /// <summary>The silo is stopping: stdin closes and the worker exits; killed if it has not within two seconds.</summary>
        public void Stop()
        {
            try { _stdin.Close(); } catch (IOException) { }
            if (!_process.WaitForExit(TimeSpan.FromSeconds(2)))
            {
                try { _process.Kill(); } catch (InvalidOperationException) { /* already gone */ }
            }
        }

        private void ReadLoop()
        {
            try
            {
                var reader = new WorkerFrameReader(_process.StandardOutput.BaseStream);
                while (reader.Next(out var type, out var id, out var payload)) _host.OnMessage(this, type, id, payload);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidDataException)
            {
                _host.LogPipeFailed(Pid, e.Message);
            }
            finally
            {
                try { _process.WaitForExit(TimeSpan.FromSeconds(5)); } catch (InvalidOperationException) { }
                Exited = true;
                _host._wake.Set();
            }
        }

        private async Task LogLoopAsync()
        {
            try
            {
                while (await _process.StandardError.ReadLineAsync() is { } line)
                {
                    if (line.Length == 0) continue;
                    _host.LogWorkerOutput(LevelOf(line), Pid, line.Length > 2000 ? line[..2000] : line);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
            }
        }

        /// <summary>The worker logs one line per entry in the console logger's format ("warn: …"); anything else is the runtime's.</summary>
        private static LogLevel LevelOf(string line) => line.Length < 6 || line[4] != ':' ? LogLevel.Warning : line[..4] switch
        {
            "trce" => LogLevel.Trace,
            "dbug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "fail" => LogLevel.Error,
            "crit" => LogLevel.Critical,
            _ => LogLevel.Warning,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording worker {Pid} started (generation {Generation})")]
    private partial void LogStarted(int pid, int generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording worker {Pid} ready, scheduled {Scheduling}")]
    private partial void LogReady(int pid, string scheduling);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording worker {Pid} exited with {ExitCode}; {Recordings} recordings continue on a new one after {Delay}")]
    private partial void LogCrashed(int pid, int exitCode, int recordings, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording worker could not be started with {FileName}")]
    private partial void LogStartFailed(string fileName, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording worker {Pid}: its pipe failed: {Reason}")]
    private partial void LogPipeFailed(int pid, string reason);

    [LoggerMessage(Message = "Recording worker {Pid}: {Line}")]
    private partial void LogWorkerOutput(LogLevel level, int pid, string line);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: recording store call failed, retrying: {Reason}")]
    private partial void LogStoreFailed(string sessionId, string reason);
}
