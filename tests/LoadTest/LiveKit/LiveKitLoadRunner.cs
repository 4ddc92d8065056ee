using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Metrics;
using VoiceActors.LoadTest.Reporting;

namespace VoiceActors.LoadTest.LiveKit;

/// <summary>
/// <c>--transport livekit</c>: the real media path. One silo process on embedded defaults (the built <c>src/Silo</c> binary,
/// Development, which starts the stand-in SFU and the agent's media bridge as its Node children); interviews created through
/// <c>POST /v1/interviews</c>; each candidate an rtc-node participant of the candidate driver joining <c>livekit.url</c> with its
/// <c>candidateToken</c>. The agent joins because the SFU reports the candidate (signed webhook → session grain → bridge).
/// Measured apart from /proc by PID: the silo, each bridge process, the SFU and the driver.
/// </summary>
public sealed class LiveKitLoadRunner(LoadOptions options, Action<string>? log = null)
{
    public const string DevelopmentApiKey = "va-local-dev-key"; // the documented Development key (ApiKeyStore.DevelopmentKey)
    private static readonly TimeSpan JoinBudget = TimeSpan.FromSeconds(120);

    /// <summary>Rooms per candidate driver process (see the sharding note where drivers start).</summary>
    public const int CandidatesPerDriver = 10;

    private readonly object _gate = new();
    private readonly Dictionary<string, Track> _sessions = new(StringComparer.Ordinal);
    private readonly LatencyHistogram _v2v = new();
    private readonly LatencyHistogram _v2vSteady = new();
    private readonly LatencyHistogram _heardFrames = new();
    private readonly LatencyHistogram _join = new();
    private readonly LatencyHistogram _agent = new();
    private readonly LatencyHistogram _create = new();
    private readonly List<LiveKitWindow> _timeline = [];
    private LatencyHistogram _windowV2v = new();
    private volatile bool _steady;
    private long _answered, _answeredSteady, _unanswered, _unansweredSteady, _windowTurns;

    /// <summary>What this transport cannot do, each saying what to change.</summary>
    public static IEnumerable<string> Validate(LoadOptions o)
    {
        if (o.UsesSiloProcesses || o.Redis is not null) yield return "--transport livekit starts one silo process on embedded defaults itself: drop --silos, --redis and the chaos options.";
        if (o.SiloLatency) yield return "--transport livekit reports the silo's latency histogram by itself (from its /metrics): drop --silo-latency.";
        if (o.Ramp > TimeSpan.Zero) yield return "--transport livekit starts every session at once (at --create-rate): drop --ramp.";
        if (o.FrameLength != TimeSpan.FromMilliseconds(20) || o.SampleRate != 24_000) yield return "--transport livekit sends 20 ms frames at 24 kHz, as the media bridge does: drop --frame-ms and --sample-rate.";
        if (o.AdmissionCeilingDuration > TimeSpan.Zero || o.RecordTurns || o.RecordS3) yield return "--admission-ceiling-duration, --record-turns and --record-s3 belong to --transport grain.";
        if (o.Sessions > 200) yield return "--transport livekit: at most 200 sessions (a machine of this kind carries far fewer rtc-node rooms).";
    }

    private sealed class Track(string id)
    {
        public string Id { get; } = id;
        public long JoinSentAt;
        public bool Joined;
        public bool AgentHeard;
        public bool Left;
        public string? Failed;
        public int TurnsSteady;
    }

    public async Task<LiveKitLoadReport> RunAsync(string command, CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var loadAtStart = ProcessTree.LoadAverages();
        var media = CandidateDriver.FindMediaDirectory(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"src/media with {CandidateDriver.Script} and its node_modules was not found above {AppContext.BaseDirectory}: run 'npm ci' in src/media.");

        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Orleans:ClusterId"] = "lkload",
            ["Orleans:ServiceId"] = "lkload",
            ["LiveKit:StandInSfu:Enabled"] = "true", // embedded defaults' media plane (SiloProcess turns it off for tests that do not want Node)
            ["Logging:LogLevel:Default"] = "Warning",
            ["Silo:MaxConcurrentSessions"] = "100000",
        };
        if (options.ProviderLatency is { } latency) settings[LoadRunner.ProviderLatencyKey] = latency.ToString("c", CultureInfo.InvariantCulture);
        foreach (var (k, v) in options.SiloSettings) settings[k] = v;

        log?.Invoke("starting the silo process (embedded defaults: stand-in SFU and media bridge as its children)...");
        await using var silo = await SiloProcess.StartAsync(settings, "silo", environment: "Development", startTimeout: TimeSpan.FromSeconds(120), ct: ct);
        using var http = new HttpClient { BaseAddress = silo.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DevelopmentApiKey);
        // rtc-node hands every FFI event to every room, stream and pending capture of its process, so a process's JS work
        // grows with the square of its rooms: candidates are spread over drivers of at most CandidatesPerDriver rooms each.
        var drivers = new List<CandidateDriver>();
        await using var stopDrivers = new AsyncDisposables(drivers);
        for (var d = 0; d < (options.Sessions + CandidatesPerDriver - 1) / CandidatesPerDriver; d++) drivers.Add(await CandidateDriver.StartAsync(media, ct));
        var consuming = Task.WhenAll(drivers.Select(ConsumeAsync));
        var components = new Components(silo.Process.Id, [.. drivers.Select(d => d.Pid)]);
        log?.Invoke($"silo pid {silo.Process.Id}, candidate driver pids {string.Join(",", drivers.Select(d => d.Pid))}");
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var idle = components.Sample();

        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runStart = Stopwatch.GetTimestamp();
        var sampler = SampleAsync(components, idle, runStart, stopSampling.Token);

        // Creates through the public API, at most --create-rate a second; each candidate joins as soon as its interview exists.
        var random = new Random(options.Seed);
        var cycleMs = options.Speech.TotalMilliseconds + options.Silence.TotalMilliseconds;
        var creates = new List<Task>();
        var interval = options.CreateRate > 0 ? TimeSpan.FromSeconds(1 / options.CreateRate) : TimeSpan.Zero;
        for (var i = 0; i < options.Sessions; i++)
        {
            var offset = random.NextDouble() * cycleMs; // candidates do not all speak in lockstep
            creates.Add(CreateAndJoinAsync(http, drivers[i % drivers.Count], i, offset, ct));
            if (interval > TimeSpan.Zero) await Task.Delay(interval, ct);
        }
        await Task.WhenAll(creates);
        // The window opens once every agent is in its room (its voice track reached the candidate): how long that takes is
        // reported apart, so a slow join on a busy machine shows as join time, not as unanswered turns.
        await WithinAsync(JoinBudget, s => (s.Joined && s.AgentHeard) || s.Failed is not null, ct); // the stragglers are reported as lost
        int joined, withAgent;
        lock (_gate) (joined, withAgent) = (_sessions.Values.Count(s => s.Joined), _sessions.Values.Count(s => s.AgentHeard));
        log?.Invoke($"{joined} of {options.Sessions} candidates joined, {withAgent} with the agent in the room; warm-up {options.Warmup.TotalSeconds:0.#} s, then {options.Duration.TotalSeconds:0.#} s measured");
        await Task.Delay(options.Warmup, ct);

        // The measured window.
        var loadAtSteady = ProcessTree.LoadAverages();
        var scrape0 = await ScrapeAsync(http, ct);
        var driver0 = Sum(drivers);
        var steady0 = components.Sample();
        var t0 = Stopwatch.GetTimestamp();
        _steady = true;
        await Task.Delay(options.Duration, ct);
        _steady = false;
        var steadySeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var steady1 = components.Sample();
        var driver1 = Sum(drivers);
        var scrape1 = await ScrapeAsync(http, ct);
        var loadAtEnd = ProcessTree.LoadAverages();
        await stopSampling.CancelAsync();
        try { await sampler; } catch (OperationCanceledException) { }

        // A session that heard no answer: its timeline says where the agent got to, which a load report alone cannot.
        string[] silent;
        lock (_gate) silent = [.. _sessions.Values.Where(s => s.Joined && s.Failed is null && s.TurnsSteady == 0).Select(s => s.Id)];
        foreach (var id in silent) log?.Invoke($"no answer heard by {id}; its timeline:\n{await TimelineAsync(http, id, ct)}");
        if (silent.Length > 0) foreach (var d in drivers) log?.Invoke($"candidate driver {d.Pid} stderr:\n{d.Stderr}");

        // Every candidate leaves and every interview is completed, as a finished interview is.
        string[] ids;
        lock (_gate) ids = [.. _sessions.Keys];
        foreach (var d in drivers) foreach (var id in ids) d.Leave(id); // a driver ignores sessions it does not hold
        var completed = 0;
        var lostReasons = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var chunk in ids.Where(id => !id.StartsWith("create-", StringComparison.Ordinal)).Chunk(8))
        {
            var results = await Task.WhenAll(chunk.Select(id => CompleteAsync(http, id, ct)));
            foreach (var r in results)
                if (r is null) completed++;
                else lostReasons[r] = lostReasons.GetValueOrDefault(r) + 1;
        }
        lock (_gate)
        {
            foreach (var s in _sessions.Values)
            {
                var reason = s.Failed ?? (!s.Joined ? "never joined" : !s.AgentHeard ? "the agent never reached the room" : s.TurnsSteady == 0 && steadySeconds * 1000 >= 2 * cycleMs ? "no answer heard in the measured window" : null);
                if (reason is not null) lostReasons[Short(reason)] = lostReasons.GetValueOrDefault(Short(reason)) + 1;
            }
        }

        var report = Build(command, startedAt, components, idle, steady0, steady1, steadySeconds, scrape0, scrape1, driver0, driver1,
            completed, lostReasons, new LiveKitMachine(Environment.ProcessorCount, loadAtStart, loadAtSteady, loadAtEnd), settings);
        await WithinAsync(TimeSpan.FromSeconds(10), s => s.Left || !s.Joined, CancellationToken.None); // every driver's "left" line before it is stopped
        _ = consuming;
        return report;
    }

    /// <summary>Waits until every session satisfies <paramref name="done"/>, or the budget passes (the caller reports what did not).</summary>
    private async Task WithinAsync(TimeSpan budget, Func<Track, bool> done, CancellationToken ct)
    {
        try
        {
            await Eventually.UntilAsync(() => { lock (_gate) return _sessions.Values.All(done); }, budget, () => "not every session", TimeSpan.FromMilliseconds(100), ct);
        }
        catch (TimeoutException)
        {
        }
    }

    private static async Task<string> TimelineAsync(HttpClient http, string id, CancellationToken ct)
    {
        try
        {
            using var json = JsonDocument.Parse(await http.GetStringAsync($"/v1/interviews/{id}/timeline", ct));
            return string.Join('\n', json.RootElement.GetProperty("events").EnumerateArray().Select(e =>
                $"  {e.GetProperty("at").GetString()} {e.GetProperty("kind").GetString()} {e.GetProperty("detail")}"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return $"  (not read: {e.GetType().Name})";
        }
    }

    private static string Short(string reason) => reason.Length > 80 ? reason[..80] : reason;

    private async Task CreateAndJoinAsync(HttpClient http, CandidateDriver driver, int index, double offsetMs, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        string id, url, token;
        try
        {
            using var response = await http.PostAsJsonAsync("/v1/interviews", new { candidateId = $"lk-cand-{index}", jobId = "job-loadtest", provider = "simulated" }, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                Fail($"create-{index}", $"create refused: HTTP {(int)response.StatusCode}");
                return;
            }
            using var json = JsonDocument.Parse(body);
            id = json.RootElement.GetProperty("sessionId").GetString()!;
            url = json.RootElement.GetProperty("livekit").GetProperty("url").GetString()!;
            token = json.RootElement.GetProperty("candidateToken").GetString()!;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            Fail($"create-{index}", $"create failed: {e.GetType().Name}");
            return;
        }
        _create.RecordMicros((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
        lock (_gate) _sessions[id] = new Track(id) { JoinSentAt = Stopwatch.GetTimestamp() };
        driver.Join(id, url, token, options.Speech.TotalMilliseconds, options.Silence.TotalMilliseconds, offsetMs);
    }

    private void Fail(string id, string reason)
    {
        lock (_gate) _sessions[id] = new Track(id) { Failed = reason };
    }

    /// <returns>Null when the interview ended Completed; otherwise why not.</returns>
    private static async Task<string?> CompleteAsync(HttpClient http, string id, CancellationToken ct)
    {
        try
        {
            using var response = await http.PostAsync($"/v1/interviews/{id}/complete", null, ct);
            if (!response.IsSuccessStatusCode) return $"complete refused: HTTP {(int)response.StatusCode}";
            using var json = JsonDocument.Parse(await http.GetStringAsync($"/v1/interviews/{id}", ct));
            var state = json.RootElement.GetProperty("state").GetString();
            return state == "Completed" ? null : $"ended as {state}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return $"complete failed: {e.GetType().Name}";
        }
    }

    private async Task ConsumeAsync(CandidateDriver driver)
    {
        await foreach (var e in driver.Events.ReadAllAsync())
        {
            lock (_gate)
            {
                _sessions.TryGetValue(e.Id, out var s);
                switch (e)
                {
                    case CandidateJoined when s is not null:
                        s.Joined = true;
                        _join.RecordMicros((long)Stopwatch.GetElapsedTime(s.JoinSentAt).TotalMicroseconds);
                        break;
                    case AgentHeard a when s is not null:
                        s.AgentHeard = true;
                        _agent.RecordMilliseconds(a.Ms);
                        break;
                    case CandidateFailed f when s is not null:
                        s.Failed ??= f.Message;
                        log?.Invoke($"candidate {e.Id[..Math.Min(8, e.Id.Length)]}: {f.Message}");
                        break;
                    case CandidateTurn t:
                        _answered++;
                        _v2v.RecordMilliseconds(t.VoiceToVoiceMs);
                        Volatile.Read(ref _windowV2v).RecordMilliseconds(t.VoiceToVoiceMs);
                        Interlocked.Increment(ref _windowTurns);
                        if (_steady)
                        {
                            _answeredSteady++;
                            _v2vSteady.RecordMilliseconds(t.VoiceToVoiceMs);
                            _heardFrames.RecordMicros(t.HeardFrames);
                            if (s is not null) s.TurnsSteady++;
                        }
                        break;
                    case CandidateLeft when s is not null:
                        s.Left = true;
                        break;
                    case CandidateUnanswered:
                        _unanswered++;
                        if (_steady) _unansweredSteady++;
                        break;
                }
            }
        }
    }

    private async Task SampleAsync(Components components, Components.Snapshot idle, long runStart, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var last = idle;
        while (await timer.WaitForNextTickAsync(ct))
        {
            var now = components.Sample();
            var seconds = (now.At - last.At) / (double)Stopwatch.Frequency;
            var window = Interlocked.Exchange(ref _windowV2v, new LatencyHistogram());
            var turns = Interlocked.Exchange(ref _windowTurns, 0);
            int joined;
            lock (_gate) joined = _sessions.Values.Count(s => s.Joined);
            var w = new LiveKitWindow(
                Math.Round(Stopwatch.GetElapsedTime(runStart).TotalSeconds, 1), joined, turns, Math.Round(window.PercentileMilliseconds(50), 1),
                Cores(Components.Silo), Cores(Components.Bridge), Cores(Components.Sfu), Cores(Components.Candidates),
                Mb(now.Rss(Components.Silo)), Mb(now.Rss(Components.Bridge)), Mb(now.Rss(Components.Sfu)), now.Pids(Components.Bridge).Count);
            lock (_timeline) _timeline.Add(w);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{w.T,6:0.0}s joined {w.Joined,4} turns {w.Turns,3} v2v p50 {w.V2vP50Ms,7:0.0} ms | cores silo {w.SiloCores:0.00} bridge {w.BridgeCores:0.00} ({w.BridgeProcesses}) sfu {w.SfuCores:0.00} candidates {w.CandidateCores:0.00} | RSS MiB silo {w.SiloRssMb:0} bridge {w.BridgeRssMb:0} sfu {w.SfuRssMb:0}{(_steady ? " [measured]" : "")}"));
            last = now;
            double Cores(string name) => seconds <= 0 ? 0 : Math.Round(Components.CpuBetween(last, now, name).TotalSeconds / seconds, 3);
        }
    }

    private static double Mb(long bytes) => Math.Round(bytes / 1048576.0, 1);

    private static async Task<SiloMetricsScrape> ScrapeAsync(HttpClient http, CancellationToken ct) =>
        SiloMetricsScrape.Parse(await http.GetStringAsync("/metrics", ct));

    private LiveKitLoadReport Build(string command, DateTimeOffset startedAt, Components components, Components.Snapshot idle,
        Components.Snapshot s0, Components.Snapshot s1, double steadySeconds, SiloMetricsScrape m0, SiloMetricsScrape m1,
        DriverStats? d0, DriverStats? d1, int completed, Dictionary<string, int> lostReasons, LiveKitMachine machine, Dictionary<string, string?> settings)
    {
        int joined, created, measuredSessions;
        lock (_gate)
        {
            joined = _sessions.Values.Count(s => s.Joined);
            created = _sessions.Values.Count(s => !s.Id.StartsWith("create-", StringComparison.Ordinal));
            measuredSessions = _sessions.Values.Count(s => s.Joined && s.Failed is null);
        }
        var figures = new List<ComponentFigures>();
        foreach (var name in new[] { Components.Silo, Components.Bridge, Components.Sfu, Components.Candidates })
        {
            var cores = steadySeconds <= 0 ? 0 : Components.CpuBetween(s0, s1, name).TotalSeconds / steadySeconds;
            var rss = s1.Rss(name);
            var rssIdle = idle.Rss(name);
            figures.Add(new ComponentFigures(name, s1.Pids(name), Math.Round(cores, 3), Mb(rss), Mb(rssIdle),
                cores > 0 ? Math.Round(measuredSessions / cores, 1) : 0,
                measuredSessions > 0 ? Math.Round(Math.Max(0, rss - rssIdle) / 1048576.0 / measuredSessions, 2) : 0,
                measuredSessions > 0 ? Math.Round(cores * 1000 / measuredSessions, 1) : 0));
        }
        var bridgeAndSilo = figures[0].Cores + figures[1].Cores;

        long Delta(string metric, string? label = null, string? value = null) => (long)Math.Round(m1.Sum(metric, label, value) - m0.Sum(metric, label, value));
        var drops = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var where in m1.LabelValues("voice_bridge_frames_dropped_total", "where")) drops["bridge:" + where] = Delta("voice_bridge_frames_dropped_total", "where", where);
        foreach (var reason in m1.LabelValues("voice_audio_frames_dropped_total", "reason")) drops["grain:" + reason] = Delta("voice_audio_frames_dropped_total", "reason", reason);
        var sent = (d1?.FramesSent ?? 0) - (d0?.FramesSent ?? 0);
        var late = (d1?.FramesLate ?? 0) - (d0?.FramesLate ?? 0);
        var captureErrors = (d1?.CaptureErrors ?? 0) - (d0?.CaptureErrors ?? 0);
        var frames = new LiveKitFrameFigures(sent, late, captureErrors, sent + late == 0 ? 0 : Math.Round(sent / (double)(sent + late), 4),
            (d1?.FramesHeard ?? 0) - (d0?.FramesHeard ?? 0),
            Delta("voice_bridge_frames_total", "direction", "in"), Delta("voice_bridge_frames_total", "direction", "out"),
            drops.Values.Sum() + captureErrors, drops);

        var added = new SortedDictionary<string, BucketPercentiles>(StringComparer.Ordinal);
        foreach (var path in new[] { "inbound", "outbound" }) added[path] = SiloMetricsScrape.Between(m0, m1, "voice_audio_latency_ms", path);

        double Setting(string key, double fallbackMs) =>
            settings.TryGetValue(key, out var v) && TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out var t) ? t.TotalMilliseconds : fallbackMs;
        var eos = Setting("Providers:Simulated:EndOfSpeechSilence", 400);
        var response = Setting(LoadRunner.ProviderLatencyKey, 300);
        var jitter = Setting("Providers:Simulated:ResponseJitter", 50);
        var share = eos + response + jitter / 2; // the jitter is uniform in [0, jitter]
        var v2v = _v2vSteady.Summarize();
        var maxPerProcess = settings.TryGetValue("MediaBridge:MaxSessionsPerProcess", out var mpp) && int.TryParse(mpp, CultureInfo.InvariantCulture, out var n) ? n : 10;

        var lost = lostReasons.Values.Sum();
        var failures = new List<string>();
        if (options.MaxLost is { } maxLost && lost > maxLost) failures.Add($"{lost} sessions lost, over --max-lost {maxLost}");
        if (options.MaxP99Ms is { } maxP99)
            foreach (var (path, l) in added)
                if (l.P99 > maxP99) failures.Add($"silo {path} p99 {l.P99} ms is over --max-p99-ms {maxP99}");

        var notes = new List<string>
        {
            "Real parts: the built src/Silo binary on embedded defaults (Development) with its stand-in SFU (werift) and media bridge (@livekit/rtc-node) as child processes; interviews created with POST /v1/interviews; candidates are @livekit/rtc-node participants joining livekit.url with candidateToken, up to 10 rooms per Node process (src/media/tools/candidate-driver.js; rtc-node hands every FFI event to every room of a process, so its JS work grows with the square of the rooms).",
            "Voice-to-voice is measured at the candidate's transport: from the end of its speech as handed to its AudioSource (plus what that source still held) to the first 20 ms frame of agent audio its AudioStream yields that is louder than mean |sample| 300. It includes the simulated provider's own pause detection and answer delay (provider_share_ms, the mean of its configuration), both WebRTC legs and the SFU.",
            "silo_added_latency_ms comes from the silo's own voice_audio_latency_ms histogram (scraped from /metrics at both ends of the measured window, so only that window counts): inbound = the bridge's read of a candidate frame off the room → handed to the provider (bridge → pipe → silo → grain → provider queue); outbound = provider frame → handed to the agent's room connection in the silo. Percentiles are interpolated in the histogram's buckets; p99_at_most is the bucket bound. The silo → bridge pipe and the bridge's AudioSource are not in outbound.",
            "CPU and RSS per component are read from /proc by PID (the silo's children are classified by their script: src/media/bridge/index.js, src/media/sfu/index.js). Sessions per core = sessions measured ÷ cores that component used over the window.",
        };
        if (frames.RealTimeRatio is > 0 and < 0.95)
            notes.Add($"The candidates could not send in real time (ratio {frames.RealTimeRatio}): the machine was short of CPU, so this run shows overload behaviour, not capacity.");

        LiveKitWindow[] timeline;
        lock (_timeline) timeline = [.. _timeline];
        return new LiveKitLoadReport(
            startedAt.ToString("O", CultureInfo.InvariantCulture), command, "livekit", machine,
            new LiveKitConfig(options.Sessions, Math.Round(steadySeconds, 2), options.Warmup.TotalSeconds, options.Speech.TotalMilliseconds, options.Silence.TotalMilliseconds,
                options.CreateRate, eos, response, jitter, maxPerProcess, options.Seed),
            new LiveKitSessionFigures(options.Sessions, created, joined, completed, lost, lostReasons),
            new LiveKitTurnFigures(_answered, _answeredSteady, _unanswered, _unansweredSteady, ScaledFrames(_heardFrames)),
            _v2v.Summarize(), v2v, share, v2v.Count == 0 ? 0 : Math.Round(v2v.P50 - share, 1),
            added, frames, figures,
            bridgeAndSilo > 0 ? Math.Round(measuredSessions / bridgeAndSilo, 1) : 0, Math.Round(bridgeAndSilo, 3),
            _join.Summarize(), _agent.Summarize(), _create.Summarize(), timeline,
            new ThresholdFigures(options.MaxP99Ms, options.MaxLost, failures.Count == 0, failures), notes);
    }

    /// <summary>Heard frames were recorded as "microseconds" to reuse the histogram: report them as counts.</summary>
    private static LatencySummary ScaledFrames(LatencyHistogram h)
    {
        var s = h.Summarize();
        return new LatencySummary(s.Count, s.P50 * 1000, s.P95 * 1000, s.P99 * 1000, s.Max * 1000, Math.Round(s.Mean * 1000, 1));
    }

    /// <summary>The processes measured: the silo, its Node children by script, and the candidate driver.</summary>
    private static DriverStats? Sum(List<CandidateDriver> drivers)
    {
        var all = drivers.Select(d => d.Stats).ToList();
        if (all.Any(s => s is null)) return null;
        return new DriverStats(all.Sum(s => s!.Sessions), all.Sum(s => s!.FramesSent), all.Sum(s => s!.FramesLate), all.Sum(s => s!.CaptureErrors),
            all.Sum(s => s!.FramesHeard), all.Sum(s => s!.RssBytes), all.Sum(s => s!.CpuMicros));
    }

    private sealed class AsyncDisposables(List<CandidateDriver> drivers) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Task.WhenAll(drivers.Select(d => d.DisposeAsync().AsTask()));
        }
    }

    private sealed class Components(int siloPid, int[] driverPids)
    {
        public const string Silo = "silo", Bridge = "bridge", Sfu = "sfu", Candidates = "candidates";

        public sealed record Snapshot(long At, Dictionary<int, (string Name, ProcSample Sample)> Processes)
        {
            public long Rss(string name) => Processes.Values.Where(p => p.Name == name).Sum(p => p.Sample.RssBytes);
            public List<int> Pids(string name) => [.. Processes.Where(p => p.Value.Name == name).Select(p => p.Key).Order()];
        }

        public Snapshot Sample()
        {
            var all = new Dictionary<int, (string, ProcSample)>();
            Add(siloPid, Silo);
            foreach (var pid in driverPids) Add(pid, Candidates);
            foreach (var (pid, commandLine) in ProcessTree.ChildrenOf(siloPid))
            {
                if (commandLine.Contains("bridge/index.js", StringComparison.Ordinal)) Add(pid, Bridge);
                else if (commandLine.Contains("sfu/index.js", StringComparison.Ordinal)) Add(pid, Sfu);
            }
            return new Snapshot(Stopwatch.GetTimestamp(), all);

            void Add(int pid, string name)
            {
                if (ProcessTree.Sample(pid) is { } s) all[pid] = (name, s);
            }
        }

        /// <summary>CPU a component used between two snapshots; a process that started in between counts from zero.</summary>
        public static TimeSpan CpuBetween(Snapshot a, Snapshot b, string name)
        {
            var total = TimeSpan.Zero;
            foreach (var (pid, (n, sample)) in b.Processes)
            {
                if (n != name) continue;
                total += a.Processes.TryGetValue(pid, out var before) ? sample.Cpu - before.Sample.Cpu : sample.Cpu;
            }
            return total;
        }
    }
}
