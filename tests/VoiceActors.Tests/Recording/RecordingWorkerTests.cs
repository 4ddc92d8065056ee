using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Media;
using VoiceActors.Recording;
using VoiceActors.Silo.Hosting;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// The recording worker process, started by the silo's host as the silo starts it (its own binary, <c>--recording-worker</c>),
/// recording to a directory store: encoding runs there, in SCHED_IDLE, not in the silo; a worker that dies mid-interview is
/// started again and the same recording continues.
/// </summary>
public sealed class RecordingWorkerTests : IDisposable
{
    private const int SchedIdle = 5;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"va-rec-worker-{Guid.NewGuid():N}");
    private readonly IOptions<RecordingOptions> _options;
    private readonly RecordingWorkerHost _host;

    public RecordingWorkerTests(ITestOutputHelper output)
    {
        _output = output;
        _options = Options.Create(new RecordingOptions { Directory = _directory, ChunkDuration = TimeSpan.FromSeconds(1) });
        _host = new RecordingWorkerHost(RecordingWorkerEntry.Launch, _options, Options.Create(new MediaRelayOptions()), TimeProvider.System, new OutputLoggers(output));
    }

    private readonly ITestOutputHelper _output;


    public void Dispose()
    {
        _host.Dispose();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Encoding_runs_in_a_child_process_whose_every_thread_is_SCHED_IDLE_and_the_silo_has_no_encoder_thread()
    {
        Assert.True(OperatingSystem.IsLinux(), "the scheduling class is a Linux feature; CI runs on Linux");
        using var encodeCpu = new CounterSum("voice_recording_encode_cpu_seconds");
        var recorder = _host.Start(new RecordingTarget("tenant-w", "idle-1", new NoSession()));
        await SpeakAsync(recorder, RecordingKit.Speech(3, seed: 71), 0, 150);
        await Eventually.UntilAsync(() => recorder.ChunksStored >= 2, TimeSpan.FromSeconds(20), () => $"{recorder.ChunksStored} chunks stored after 3 s");

        var pid = _host.WorkerPid;
        Assert.NotEqual(0, pid);
        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.Equal("SCHED_IDLE", _host.WorkerScheduling);
        var threads = Threads(pid);
        _output.WriteLine($"worker {pid}: {string.Join(", ", threads.Select(t => $"{t.Tid} {t.Name} policy {t.Policy}"))}");
        Assert.Contains(threads, t => t.Name.StartsWith("recording-enc", StringComparison.Ordinal));
        Assert.All(threads, t => Assert.True(t.Policy == SchedIdle, $"worker thread {t.Tid} ({t.Name}) has policy {t.Policy}, not SCHED_IDLE"));
        Assert.DoesNotContain(Threads(Environment.ProcessId), t => t.Name.StartsWith("recording-enc", StringComparison.Ordinal));
        // The worker's own encoder-thread clocks reached this process' counter: it encoded, and /metrics exports it.
        Assert.True(encodeCpu.Value > 0, "no encoder CPU was reported back from the worker");

        await recorder.CompleteAsync();
        var manifest = await ManifestAsync("idle-1");
        Assert.InRange(manifest.Chunks.Sum(c => c.Samples48) / 48_000.0, 2.5, 3.5);
    }

    [Fact]
    public async Task A_worker_killed_mid_interview_is_started_again_and_the_recording_continues_losing_at_most_the_chunk_in_progress()
    {
        var recorder = _host.Start(new RecordingTarget("tenant-w", "crash-1", new NoSession()));
        var speech = RecordingKit.Speech(8, seed: 72);
        await SpeakAsync(recorder, speech, 0, 200);
        await Eventually.UntilAsync(() => recorder.ChunksStored >= 3, TimeSpan.FromSeconds(20), () => $"{recorder.ChunksStored} chunks stored after 4 s");
        var first = _host.WorkerPid;
        Assert.NotEqual(0, first);
        System.Diagnostics.Process.GetProcessById(first).Kill(); // the host's own child, like an OOM kill
        await SpeakAsync(recorder, speech, 200, 400);
        await Eventually.UntilAsync(() => _host.WorkerPid is not 0 && _host.WorkerPid != first, TimeSpan.FromSeconds(20), () => "no new worker");
        await recorder.CompleteAsync();

        var manifest = await ManifestAsync("crash-1");
        var chunks = manifest.Chunks;
        var recorded = chunks.Sum(c => c.Samples48) / 48_000.0;
        _output.WriteLine($"killed {first}, then {_host.WorkerPid}; chunks {string.Join(", ", chunks.Select(c => $"#{c.Index}@{c.Start48 / 48_000.0:0.00}s+{c.Samples48 / 48_000.0:0.00}s"))}; {recorded:0.00} s recorded");
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index)); // one recording, numbered on
        // 8 s spoken; lost: the chunk in progress at the kill (1 s) and what was in the pipe to the dead worker.
        Assert.True(recorded >= 8 - 1 - 0.5, $"{recorded:0.00} s of 8 s recorded: more than the chunk in progress was lost");
        Assert.True(recorded <= 8 + 0.5, $"{recorded:0.00} s recorded of 8 s spoken");
        Assert.Equal(0, recorder.FramesDropped);
    }

    [Fact]
    public async Task A_recording_pumped_before_the_silos_first_tick_encodes_nothing_by_the_clock()
    {
        // A new worker pumps with the silo's clock still 0 until its first Tick; frames queued before it may already be placed.
        // (0 - origin) × 24 kHz in ticks overflowed a long: on this date into ~16.9 million seconds due, encoded as silence until
        // the worker died (the killed-worker test recorded 88 to 1214 s of its 8 s). A real date, not the epoch: the wrap's sign
        // depends on it.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 14, 38, 40, TimeSpan.Zero));
        var vault = new RecordingVault(new DirectoryRecordingStore(_options), new RecordingKeys(_options), _options);
        var encoder = new RecordingEncoder(1, "tenant-w", "tick-1", new NoEvents(), vault, new MediaRelayOptions().SpeechLevel, clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<RecordingEncoder>.Instance);
        var pcm = RecordingKit.Speech(1, seed: 73);
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(AudioFormat.FrameBytes);
            pcm.AsSpan(i * AudioFormat.FrameBytes, AudioFormat.FrameBytes).CopyTo(bytes);
            encoder.Offer(bytes, AudioFormat.FrameBytes, clock.GetUtcNow().UtcTicks, 0);
        }

        var beforeTick = Task.Run(() => encoder.Pump(0)); // on a pool thread: the bug never returned
        Assert.True(await Task.WhenAny(beforeTick, Task.Delay(TimeSpan.FromSeconds(10))) == beforeTick,
            "a pump before the silo's first tick did not return: it is encoding without end");
        Assert.False(await beforeTick, "the recording ended");
        var completed = encoder.CompleteAsync(TimeSpan.FromSeconds(30));
        Assert.True(encoder.Pump(clock.GetUtcNow().UtcTicks), "the recording did not end when completed");
        await completed.WaitAsync(TimeSpan.FromSeconds(30));

        var manifest = await ManifestAsync("tick-1");
        var recorded = manifest.Chunks.Sum(c => c.Samples48) / 48_000.0;
        Assert.InRange(recorded, 0.19, 0.21); // the ten frames offered, no silence after them
    }

    /// <summary>Frames <paramref name="from"/> to <paramref name="to"/> of <paramref name="pcm"/>, at real time.</summary>
    private static async Task SpeakAsync(SessionRecorder recorder, byte[] pcm, int from, int to)
    {
        var clock = Stopwatch.StartNew();
        for (var i = from; i < to; i++)
        {
            var due = TimeSpan.FromMilliseconds(20 * (i - from)) - clock.Elapsed;
            if (due > TimeSpan.Zero) await Task.Delay(due);
            recorder.Candidate(new AudioFrame(i, DateTime.UtcNow.Ticks, pcm.AsSpan(i * AudioFormat.FrameBytes, AudioFormat.FrameBytes).ToArray()));
        }
    }

    private async Task<RecordingManifest> ManifestAsync(string session)
    {
        var vault = new RecordingVault(new DirectoryRecordingStore(_options), new RecordingKeys(_options), _options);
        var key = await vault.OpenKeyAsync("tenant-w", session, default) ?? throw new InvalidOperationException("no key stored");
        return await vault.ReadManifestAsync("tenant-w", session, key, default) ?? throw new InvalidOperationException("no manifest stored");
    }

    /// <summary>Every thread of a process: its name and scheduling policy (<c>/proc/PID/task/TID/stat</c>, field 41).</summary>
    private static List<(int Tid, string Name, int Policy)> Threads(int pid)
    {
        var threads = new List<(int, string, int)>();
        foreach (var directory in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": field 3 onwards
                threads.Add((int.Parse(Path.GetFileName(directory)), name, int.Parse(fields[41 - 3], System.Globalization.CultureInfo.InvariantCulture)));
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                // the thread ended while being read
            }
        }
        return threads;
    }

    /// <summary>A counter of this process summed from when the test starts.</summary>
    private sealed class CounterSum : IDisposable
    {
        private readonly MeterListener _listener = new();
        private double _sum;

        public CounterSum(string name)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == name) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
            {
                lock (_listener) _sum += value;
            });
            _listener.Start();
        }

        public double Value
        {
            get
            {
                lock (_listener) return _sum;
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The host's log (the worker's lines included) in the test's output: what happened around a kill.</summary>
    private sealed class OutputLoggers(ITestOutputHelper output) : ILoggerFactory, ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}");
            }
            catch (InvalidOperationException)
            {
                // a line after the test ended
            }
        }
    }

    private sealed class NoEvents : IRecordingEvents
    {
        public void ChunkStored(uint recording) { }
        public void ChunkDropped(uint recording, double seconds, string why) { }
        public void StoreFailed(uint recording, string reason) { }
    }

    /// <summary>The session's side: no chunk may be dropped in these tests (asserted through the recorder's counters).</summary>
    private sealed class NoSession : ISessionMediaEvents
    {
        public Task OnProviderTurn(Turn turn) => Task.CompletedTask;
        public Task OnProviderEvent(ProviderEvent e) => Task.CompletedTask;
        public Task OnAgentRoom(string state, string reason) => Task.CompletedTask;
    }
}
