using System.Diagnostics;
using VoiceActors.LoadTest.Cluster;
using VoiceActors.LoadTest.LiveKit;
using VoiceActors.LoadTest.Metrics;
using VoiceActors.LoadTest.Reporting;
using VoiceActors.Sessions;

namespace VoiceActors.LoadTest.Load;

/// <summary>
/// One load run: measures the ceiling, then drives sessions along the ramp profile while a pump thread streams their
/// audio, a sampler records one-second windows, and scheduled chaos takes parts of the cluster down. Returns the report.
/// </summary>
public sealed class LoadRunner(LoadOptions options, TimeProvider clock, Action<LiveStatus>? progress = null, Action<string>? log = null)
{
    /// <summary>The simulated provider's answer delay in the silos' configuration (set by <c>--provider-latency</c>).</summary>
    public const string ProviderLatencyKey = "Providers:Simulated:ResponseLatency";

    /// <summary>The simulated provider's answer length, and its spread (the realistic cadence sets 5 s + up to 10 s).</summary>
    public const string ResponseDurationKey = "Providers:Simulated:ResponseDuration";
    public const string ResponseDurationJitterKey = "Providers:Simulated:ResponseDurationJitter";

    private const int PumpSlices = 4; // each frame period is cut in four so sends spread out instead of bursting

    private readonly RunStats _stats = new();
    private readonly List<SimulatedSession> _live = [];
    private readonly List<SimulatedSession> _all = [];
    private readonly List<Task> _sessionTasks = [];
    private readonly List<WindowSample> _timeline = [];
    private readonly List<(string Kind, double AtS)> _chaos = [];
    private readonly ChaosAudioGaps _audioGaps = new();
    private readonly List<CostSample> _costs = [];
    private readonly List<MinuteLatency> _minutes = [];
    private LongRunProbe? _probe;
    private RadosGatewayProcess? _store;
    private SimulatedSession[] _pumped = [];
    private long _runStart;
    private volatile bool _pumping;

    public async Task<LoadReport> RunAsync(string command, CancellationToken ct)
    {
        if (options.RecordS3)
        {
            log?.Invoke("starting a RADOS Gateway for the recordings (SCHED_IDLE)...");
            _store = new RadosGatewayProcess(idle: true);
            await _store.StartAsync();
        }
        await using var store = _store;
        var cluster = await StartClusterAsync(ct);
        try
        {
            return await RunAsync(cluster, command, ct);
        }
        finally
        {
            // The report is already built: a cluster that stops untidily after a run (timeouts of an overloaded silo) must not lose it.
            try { await cluster.DisposeAsync(); }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or TimeoutException or OrleansException)
            {
                log?.Invoke($"the cluster did not shut down cleanly: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private async Task<ClusterUnderTest> StartClusterAsync(CancellationToken ct)
    {
        var settings = new Dictionary<string, string?>(options.SiloSettings);
        if (_store is not null)
            foreach (var (k, v) in _store.Settings("loadtest-recordings")) settings.TryAdd(k, v);
        if (options.ProviderLatency is { } latency) settings[ProviderLatencyKey] = latency.ToString("c");
        if (options.Cadence == LoadCadence.Realistic && !settings.ContainsKey(ResponseDurationKey))
        {
            settings[ResponseDurationKey] = RealisticCadence.AgentShortest.ToString("c");
            settings[ResponseDurationJitterKey] = RealisticCadence.AgentJitter.ToString("c");
        }
        if (options.UsesSiloProcesses)
        {
            log?.Invoke($"starting {options.EffectiveSiloProcesses} silo processes on {(options.Redis is null ? "a new redis-server" : "the given Redis")}...");
            return await RedisCluster.StartAsync(options.Redis, options.EffectiveSiloProcesses, $"loadtest-{Guid.NewGuid():N}"[..17], settings, ct);
        }
        if (options.Redis is not null)
        {
            log?.Invoke("connecting to the Redis-clustered fleet...");
            return await RedisCluster.StartAsync(options.Redis, 0, options.ClusterId, settings, ct);
        }
        log?.Invoke("starting an in-process silo...");
        return await InProcessCluster.StartAsync(settings, ct);
    }

    public async Task<LoadReport> RunAsync(ClusterUnderTest cluster, string command, CancellationToken ct)
    {
        if (!ResponsePoolBound.Apply()) log?.Invoke("warning: Orleans' response pool could not be bounded: this tester's heap grows by 64 B per audio frame");
        var startedAt = clock.GetUtcNow();
        CeilingResult? ceiling = null;
        if (options.CeilingDuration > TimeSpan.Zero)
        {
            log?.Invoke($"ceiling: ping grain, {options.CeilingConcurrency} concurrent callers, {options.CeilingDuration.TotalSeconds:0.#} s...");
            ceiling = await PingCeiling.MeasureAsync(cluster.Client, options.CeilingConcurrency, options.CeilingDuration, ct);
            log?.Invoke($"ceiling: {ceiling.CallsPerSecond:N0} calls/s");
        }
        AdmissionCeilingResult? admission = null;
        if (options.AdmissionCeilingDuration > TimeSpan.Zero)
        {
            log?.Invoke($"admission ceiling: {options.AdmissionCeilingConcurrency} concurrent callers, {options.AdmissionCeilingDuration.TotalSeconds:0.#} s each for admissions and creates...");
            admission = await AdmissionCeiling.MeasureAsync(cluster.Client, options.TenantId, options.AdmissionCeilingConcurrency, options.AdmissionCeilingDuration,
                () => cluster.SampleSilos()?.CpuTime, log, ct);
        }
        await Task.Delay(TimeSpan.FromSeconds(1), clock, ct); // let the ceiling's garbage and threads settle before the idle reading
        var idle = cluster.SampleSilos();

        _runStart = Stopwatch.GetTimestamp();
        _stats.Now = () => Stopwatch.GetElapsedTime(_runStart).TotalSeconds;
        var frames = new SpeechFrames(options.SampleRate, options.FrameLength, options.Seed);
        var context = new SessionContext(cluster.Client, options, _stats, frames, clock, _runStart, _audioGaps);
        using var siloLatency = options.SiloLatency ? new SiloLatencyProbe(() => _stats.InSteadyState) : null;
        using var recording = options.Record && options.SiloLatency ? new RecordingProbe(() => _stats.InSteadyState, _store is null ? null : StoreCpuSeconds) : null;
        var pump = new Thread(Pump) { IsBackground = true, Name = "loadtest-audio-pump", Priority = ThreadPriority.AboveNormal };
        _pumping = true;
        pump.Start();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (cluster is RedisCluster { RedisConnection: { } redis } fleet) _probe = new LongRunProbe(redis, fleet.ServiceId, () => fleet.SiloProcesses);
        var sampler = SampleAsync(cluster, idle, stopSampling.Token);
        var costSampler = _probe is null ? Task.CompletedTask : CostSampleAsync(_probe, stopSampling.Token);
        var chaos = ChaosAsync(cluster, ct);
        try
        {
            await ControlAsync(context, ct);
            recording?.Freeze();
            foreach (var s in _live) s.RequestStop();
            var drainBudget = options.RetryBudget + TimeSpan.FromSeconds(30);
            await Task.WhenAll(_sessionTasks).WaitAsync(drainBudget, clock, ct);
        }
        finally
        {
            _pumping = false;
            pump.Join();
            stopSampling.Cancel();
            try { await sampler; } catch (OperationCanceledException) { }
            try { await costSampler; } catch (OperationCanceledException) { }
            try { await chaos; } catch (OperationCanceledException) { }
        }
        await Task.Delay(TimeSpan.FromSeconds(1), clock, CancellationToken.None); // provider frames still in flight land before the sinks go
        foreach (var s in _all)
        {
            s.CloseEpoch();
            s.ReleaseSink();
        }
        try { await Task.WhenAll(_audioTasks); } catch (OperationCanceledException) { }
        lock (_minutes) _minutes.Add(new(_minutes.Count + 1, Interlocked.Exchange(ref _stats.Minute, LatencyHistogram.Exact()))); // the last (partial) minute
        var report = BuildReport(command, startedAt, cluster, ceiling, admission, idle) with { SiloLatencyMs = siloLatency?.Summarize(), Recording = recording?.Summarize(options.Sessions), ChaosAudio = _audioGaps.Summarize() };
        if (_probe is null) return report;
        var runStartUtc = clock.GetUtcNow() - Stopwatch.GetElapsedTime(_runStart);
        var outages = report.Chaos.Select(c => (runStartUtc + TimeSpan.FromSeconds(c.AtS), runStartUtc + TimeSpan.FromSeconds(c.AtS + Math.Max(c.RecoveryS, 1)))).ToArray();
        var longRun = await LongRunReport.BuildAsync(_probe, cluster.Client, options, AllSessions(), report.Timeline, Costs(), Minutes(), _stats, outages, runStartUtc, log, ct);
        return report with { LongRun = longRun.Figures, Timeline = longRun.Timeline };
    }

    private double StoreCpuSeconds() => _store!.DaemonIds.Sum(id => ProcessTree.Sample(id)?.Cpu.TotalSeconds ?? 0); // an exited daemon counts 0

    /// <summary>Starts and stops sessions so the live count follows the ramp profile, within the create rate.</summary>
    private async Task ControlAsync(SessionContext context, CancellationToken ct)
    {
        var random = new Random(options.Seed);
        var cycleFrames = (int)((options.Speech + options.Silence) / options.FrameLength);
        var tokens = 0.0;
        var last = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50), clock);
        while (true)
        {
            var elapsed = Stopwatch.GetElapsedTime(_runStart);
            if (elapsed >= options.TotalTime) return;
            var now = Stopwatch.GetTimestamp();
            tokens = options.CreateRate == 0 ? double.MaxValue : Math.Min(options.CreateRate, tokens + options.CreateRate * Stopwatch.GetElapsedTime(last, now).TotalSeconds);
            last = now;

            var target = options.TargetAt(elapsed);
            var rampingDown = elapsed >= options.Ramp + options.Duration;
            var added = false;
            while (_live.Count < target && !rampingDown && tokens >= 1)
            {
                tokens -= 1;
                var session = new SimulatedSession(context, SessionIds.New(), random.Next(cycleFrames), random.Next());
                _live.Add(session);
                lock (_all) _all.Add(session);
                _sessionTasks.Add(session.RunAsync());
                added = true;
            }
            // A lost session keeps its place in the count: replacing it would pile more load on a cluster that is already failing.
            var stopped = false;
            while (_live.Count > target)
            {
                stopped = true;
                _live[0].RequestStop(); // the oldest interview ends first
                _live.RemoveAt(0);
            }
            if (added || stopped) _pumped = Pumpable();
            if (!await timer.WaitForNextTickAsync(ct)) return;
        }
    }

    private SimulatedSession[] AllSessions()
    {
        lock (_all) return [.. _all];
    }

    private CostSample[] Costs()
    {
        lock (_costs) return [.. _costs];
    }

    private MinuteLatency[] Minutes()
    {
        lock (_minutes) return [.. _minutes];
    }

    /// <summary>Every ~10 s: Redis input so far, the turns the session logs hold, the largest session keys, the silos' heap.</summary>
    private async Task CostSampleAsync(LongRunProbe probe, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.CostSampleEvery, clock); // SCAN + MEMORY USAGE is not a per-second job
        do
        {
            var t = Math.Round(Stopwatch.GetElapsedTime(_runStart).TotalSeconds, 1);
            var ids = AllSessions().Select(s => s.SessionId).ToArray();
            var committed = await probe.CommittedTurnsAsync(ids);
            var bytes = await probe.InputBytesAsync(); // after the LLENs: the bytes and the turns of one sample belong together
            var keys = await probe.LargestKeysAsync(ct);
            var heap = await probe.SiloHeapMbAsync(ct);
            lock (_costs) _costs.Add(new CostSample(t, bytes, committed?.Values.Sum(), keys, heap.Count == 0 ? null : heap.Sum()));
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    private SimulatedSession[] Pumpable()
    {
        // Sessions asked to stop stay pumped until they actually stop streaming; finished ones drop out.
        var list = new List<SimulatedSession>(_pumped.Length + 16);
        var seen = new HashSet<SimulatedSession>(ReferenceEqualityComparer.Instance);
        foreach (var s in _pumped) if (!s.IsFinished && seen.Add(s)) list.Add(s);
        foreach (var s in _live) if (!s.IsFinished && seen.Add(s)) list.Add(s);
        return [.. list];
    }

    /// <summary>The audio pump: one thread walks the sessions every frame period (in slices) and sends what is due.</summary>
    private void Pump()
    {
        var frameTicks = (long)(options.FrameLength.TotalSeconds * Stopwatch.Frequency);
        var sliceTicks = frameTicks / PumpSlices;
        var next = Stopwatch.GetTimestamp();
        var slice = 0;
        while (_pumping)
        {
            var sessions = _pumped;
            var now = Stopwatch.GetTimestamp();
            for (var i = slice; i < sessions.Length; i += PumpSlices) sessions[i].PumpIfDue(now, frameTicks);
            slice = (slice + 1) % PumpSlices;
            next += sliceTicks;
            var wait = next - Stopwatch.GetTimestamp();
            if (wait < -frameTicks) next = Stopwatch.GetTimestamp(); // starved: resynchronise rather than burst
            else if (wait > 0) Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
        }
    }

    private async Task SampleAsync(ClusterUnderTest cluster, ResourceSample? idle, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        var lastTime = Stopwatch.GetTimestamp();
        long lastSent = 0, lastReceived = 0, lastTranscripts = 0;
        long? lastInput = null;
        var lastResources = idle;
        while (await timer.WaitForNextTickAsync(ct))
        {
            var now = Stopwatch.GetTimestamp();
            var seconds = Stopwatch.GetElapsedTime(lastTime, now).TotalSeconds;
            lastTime = now;
            var window = Interlocked.Exchange(ref _stats.Window, new LatencyHistogram());
            var sent = Interlocked.Read(ref _stats.FramesSent);
            var received = Interlocked.Read(ref _stats.FramesReceived);
            var active = 0;
            foreach (var s in _pumped) if (s.IsStreaming) active++;
            var resources = cluster.SampleSilos();
            double? redisPerS = null, rssMb = null;
            IReadOnlyList<double>? rssEach = null;
            if (_probe is not null)
            {
                var input = await _probe.InputBytesAsync();
                if (input is { } i && lastInput is { } li) redisPerS = Math.Round(Math.Max(0, i - li) / seconds, 1);
                lastInput = input ?? lastInput;
                rssEach = _probe.SiloRssMb();
                rssMb = rssEach.Count == 0 ? null : Math.Round(rssEach.Sum(), 1);
            }
            var transcripts = Interlocked.Read(ref _stats.Transcripts);
            double? cores = null, workingSetMb = null;
            if (resources is { } r && lastResources is { } l)
            {
                cores = Math.Round((r.CpuTime - l.CpuTime).TotalSeconds / seconds, 3);
                workingSetMb = Math.Round(r.WorkingSetBytes / 1048576.0, 1);
            }
            lastResources = resources;
            var elapsed = Stopwatch.GetElapsedTime(_runStart);
            if (elapsed >= options.Warmup) _stats.InSteadyState = true;
            var sample = new WindowSample(
                Math.Round(elapsed.TotalSeconds, 1), options.TargetAt(elapsed), active,
                Math.Round((sent - lastSent) / seconds, 1), Math.Round((received - lastReceived) / seconds, 1),
                Math.Round(window.PercentileMilliseconds(99), 3), window.Count, cores, workingSetMb)
            {
                RedisInputBytesPerS = redisPerS,
                TranscriptsPerS = _probe is null ? null : Math.Round((transcripts - lastTranscripts) / seconds, 1),
                SiloRssMb = rssMb,
                SiloRssEachMb = rssEach,
                TesterHeapMb = Math.Round(GC.GetTotalMemory(false) / 1048576.0, 1), // the tester's own garbage stalls what it measures
            };
            lastTranscripts = transcripts;
            if ((int)(elapsed.TotalSeconds / 60) > Minutes().Length)
                lock (_minutes) _minutes.Add(new(_minutes.Count + 1, Interlocked.Exchange(ref _stats.Minute, LatencyHistogram.Exact())));
            lastSent = sent;
            lastReceived = received;
            lock (_timeline) _timeline.Add(sample);
            progress?.Invoke(new LiveStatus(sample, options.TotalTime, _stats));
        }
    }

    private async Task ChaosAsync(ClusterUnderTest cluster, CancellationToken ct)
    {
        var events = new List<(TimeSpan At, string Kind, Func<Task> Act)>();
        if (options.KillSiloAt is { } kill) events.Add((kill, "kill-silo", cluster.KillSiloAsync));
        if (options.DrainSiloAt is { } drain) events.Add((drain, "drain-silo", cluster.DrainSiloAsync));
        if (options.RestartRedisAt is { } restart) events.Add((restart, "restart-redis", cluster.RestartRedisAsync));
        events.Sort(static (a, b) => a.At.CompareTo(b.At));
        foreach (var (at, kind, act) in events)
        {
            var wait = at - Stopwatch.GetElapsedTime(_runStart);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, clock, ct);
            // Where each session is, just before the event: the ones it moves are the ones it interrupted (a Redis restart moves none).
            var audio = kind == "restart-redis" ? null : await _audioGaps.BeforeAsync(kind, cluster.Client, options.TenantId, LiveSessionIds());
            var atS = Stopwatch.GetElapsedTime(_runStart).TotalSeconds;
            log?.Invoke($"chaos: {kind} at {atS:0.0} s");
            lock (_chaos) _chaos.Add((kind, atS));
            try
            {
                await act();
                if (audio is not null) _audioTasks.Add(AfterChaosAsync(audio, cluster, ct));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or StackExchange.Redis.RedisException)
            {
                // The run goes on: what the sessions saw is still worth reporting, and the failure is in the report's errors.
                _stats.RecordError(e);
                log?.Invoke($"chaos: {kind} did not complete: {e.Message}");
            }
        }
    }

    /// <summary>The sessions that are streaming right now (the ones a chaos event can interrupt).</summary>
    private string[] LiveSessionIds() => [.. _pumped.Where(p => p.IsStreaming).Select(p => p.SessionId)];

    /// <summary>Once the event has had time to settle (past the 5 s "still silent" mark), finds which sessions it moved.</summary>
    private async Task AfterChaosAsync(ChaosAudioGaps.EventAudio audio, ClusterUnderTest cluster, CancellationToken ct)
    {
        await Task.Delay(ChaosAudioGaps.SilentAfter + TimeSpan.FromSeconds(1), clock, ct);
        await _audioGaps.AfterAsync(audio, cluster.Client, options.TenantId);
    }

    private readonly List<Task> _audioTasks = [];

    private LoadReport BuildReport(string command, DateTimeOffset startedAt, ClusterUnderTest cluster, CeilingResult? ceiling, AdmissionCeilingResult? admission, ResourceSample? idle)
    {
        var s = _stats;
        WindowSample[] timeline;
        lock (_timeline) timeline = [.. _timeline];
        var p99Target = options.MaxP99Ms ?? 20;
        var peak = 0;
        var maxAtTarget = 0;
        var overTarget = false;
        foreach (var w in timeline)
        {
            peak = Math.Max(peak, w.Active);
            // The most sessions carried before the first one-second window whose p99 went over the target (after the warm-up).
            if (overTarget || w.T <= options.Warmup.TotalSeconds || w.Samples == 0) continue;
            if (w.P99Ms > p99Target) overTarget = true;
            else maxAtTarget = Math.Max(maxAtTarget, w.Active);
        }

        // The plateau: the windows at (nearly) the peak, before any chaos changed the fleet; figures "per session" are taken there.
        var firstChaos = double.MaxValue;
        lock (_chaos) foreach (var (_, at) in _chaos) firstChaos = Math.Min(firstChaos, at);
        var plateau = new List<int>();
        for (var i = 0; i < timeline.Length; i++)
            if (peak > 0 && timeline[i].Active >= 0.95 * peak && timeline[i].T < firstChaos && timeline[i].T > options.Warmup.TotalSeconds) plateau.Add(i);
        if (plateau.Count == 0) // a run too short for a steady state: take the peak windows as they are
            for (var i = 0; i < timeline.Length; i++)
                if (peak > 0 && timeline[i].Active >= 0.95 * peak && timeline[i].T < firstChaos) plateau.Add(i);
        double audioPerS = 0, cores = 0, workingSet = 0;
        foreach (var i in plateau)
        {
            audioPerS += timeline[i].FramesSentPerS + timeline[i].FramesReceivedPerS;
            cores += timeline[i].SiloCpuCores ?? 0;
            workingSet += timeline[i].SiloWorkingSetMb ?? 0;
        }
        if (plateau.Count > 0)
        {
            audioPerS /= plateau.Count;
            cores /= plateau.Count;
            workingSet /= plateau.Count;
        }

        SiloFigures? silos = null;
        var lastResources = cluster.SampleSilos();
        if (idle is { } idleSample && lastResources is { } end)
        {
            var idleMb = idleSample.WorkingSetBytes / 1048576.0;
            double peakMb = 0;
            foreach (var w in timeline) peakMb = Math.Max(peakMb, w.SiloWorkingSetMb ?? 0);
            silos = new SiloFigures(
                cluster.Description, Math.Round(cores, 3), cores > 0 ? Math.Round(peak / cores, 1) : 0, Math.Round(idleMb, 1),
                Math.Round(workingSet, 1), Math.Round(peakMb, 1),
                peak > 0 ? Math.Round(Math.Max(0, workingSet - idleMb) * 1024 / peak, 1) : 0,
                Math.Round((end.CpuTime - idleSample.CpuTime).TotalSeconds, 2));
        }

        var lost = Interlocked.Read(ref s.SessionsLost);
        var p99 = s.AudioPath.PercentileMilliseconds(99);
        var failures = new List<string>();
        if (options.MaxP99Ms is { } maxP99 && p99 > maxP99) failures.Add($"audio p99 {p99:0.###} ms is over --max-p99-ms {maxP99}");
        if (options.MaxLost is { } maxLost && lost > maxLost) failures.Add($"{lost} sessions lost, over --max-lost {maxLost}");

        var createSpan = (s.LastCreateTimestamp - s.FirstCreateTimestamp) / (double)Stopwatch.Frequency;
        var framesLost = s.FramesFailed + s.FramesDroppedByClient + s.ProviderGaps;
        var notes = new List<string>();
        if (s.FramesReceived == 0)
            notes.Add("No provider audio came back: this build's session grain does not run a voice provider yet, so outbound latency, turn latency and provider gaps are empty and latency_ms is the inbound (push acknowledged) path only.");
        notes.Add("Sessions are opened through the gateway's admission path (IRegionAdmissionGrain, then Create with the region for placement); the candidate joins with ParticipantJoined and the agent joins when the session's provider connects.");
        if (s.FramesSent + s.FramesLateAtClient > 0 && s.FramesSent < 0.95 * (s.FramesSent + s.FramesLateAtClient))
            notes.Add($"The tester could not send audio in real time (real-time ratio {s.FramesSent / (double)(s.FramesSent + s.FramesLateAtClient):0.00}): the machine was short of CPU, so this run shows overload behaviour, not capacity.");
        if (cluster is InProcessCluster) notes.Add("In-process cluster: silo, client and tester share one process, so CPU and memory figures include the tester itself (an upper bound for the silo).");

        return new LoadReport(
            startedAt.ToString("O"), command, cluster.Description,
            new ReportConfig(options.Sessions, options.Duration.TotalSeconds, options.Ramp.TotalSeconds, options.FrameLength.TotalMilliseconds,
                options.Speech.TotalMilliseconds, options.Silence.TotalMilliseconds, options.SampleRate, options.ProviderLatency?.TotalMilliseconds,
                options.CreateRate, options.EffectiveSiloProcesses, options.KillSiloAt?.TotalSeconds, options.DrainSiloAt?.TotalSeconds,
                options.RestartRedisAt?.TotalSeconds, options.RetryBudget.TotalSeconds, options.RecordTurns, options.Seed, Environment.ProcessorCount, options.Warmup.TotalSeconds),
            new SessionFigures(s.SessionsStarted, s.SessionsCompleted, lost, peak, maxAtTarget, p99Target),
            new FrameFigures(s.FramesSent, s.FramesAcked, s.FramesReceived, framesLost, s.FramesFailed, s.FramesDroppedByClient, s.ProviderGaps, s.FramesLateAtClient,
                s.FramesSent + s.FramesLateAtClient == 0 ? 0 : Math.Round(s.FramesSent / (double)(s.FramesSent + s.FramesLateAtClient), 4), s.FramesAfterEnd),
            s.AudioPath.Summarize(), s.Steady.Summarize(), s.Inbound.Summarize(), s.Outbound.Summarize(), s.Create.Summarize(), s.Join.Summarize(),
            createSpan > 0 ? Math.Round(s.Create.Count / createSpan, 1) : 0,
            new TurnFigures(s.Utterances, s.TurnsAnswered, s.TurnsUnanswered, s.TurnsRecorded, s.Transcripts),
            s.Turn.Summarize(),
            s.Errors, new SortedDictionary<string, long>(s.ErrorKinds), new SortedDictionary<string, long>(s.LostReasons),
            ceiling is null
                ? new CeilingFigures(0, 0, Math.Round(audioPerS, 1), 0, 0, 0)
                : new CeilingFigures(Math.Round(ceiling.CallsPerSecond, 1), Math.Round(audioPerS / ceiling.CallsPerSecond, 4), Math.Round(audioPerS, 1),
                    ceiling.Concurrency, Math.Round(ceiling.Seconds, 2), ceiling.Failures),
            admission is null ? null : new AdmissionCeilingFigures(
                Math.Round(admission.Admissions.PerSecond, 1), Math.Round(admission.Admissions.CpuMicrosEach, 1), admission.Admissions.Refused,
                Math.Round(admission.Creates.PerSecond, 1), Math.Round(admission.Creates.CpuMicrosEach, 1), admission.Creates.Latency.Summarize(),
                admission.Creates.Refused, admission.Creates.Failures, admission.Concurrency, Math.Round(admission.Creates.Seconds, 2)),
            silos, ChaosFigures(), timeline,
            new ThresholdFigures(options.MaxP99Ms, options.MaxLost, failures.Count == 0, failures),
            notes);
    }

    private List<ChaosFigures> ChaosFigures()
    {
        var result = new List<ChaosFigures>();
        var outages = _stats.Outages.ToArray();
        var lostAt = _stats.LostAtS.ToArray();
        for (var e = 0; e < _chaos.Count; e++)
        {
            var (kind, at) = _chaos[e];
            var until = e + 1 < _chaos.Count ? _chaos[e + 1].AtS : double.MaxValue;
            var sessions = new HashSet<string>(StringComparer.Ordinal);
            double recoveredBy = at, outageSum = 0;
            var count = 0;
            foreach (var o in outages)
            {
                if (o.FromS < at - 0.5 || o.FromS >= until) continue; // a call in flight when the event hit may have started just before
                sessions.Add(o.SessionId);
                recoveredBy = Math.Max(recoveredBy, o.ToS);
                outageSum += o.ToS - o.FromS;
                count++;
            }
            long lostAfter = 0;
            foreach (var l in lostAt) if (l >= at && l < until) lostAfter++;
            result.Add(new ChaosFigures(kind, Math.Round(at, 2), sessions.Count, Math.Round(recoveredBy - at, 2),
                count == 0 ? 0 : Math.Round(outageSum / count, 2), lostAfter));
        }
        return result;
    }
}

/// <summary>What the live display shows each second.</summary>
public sealed record LiveStatus(WindowSample Window, TimeSpan Total, RunStats Stats);
