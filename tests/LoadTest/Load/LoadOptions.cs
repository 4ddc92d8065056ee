namespace VoiceActors.LoadTest.Load;

/// <summary>Everything one load run is told to do; the command line fills it, tests build it directly.</summary>
public sealed record LoadOptions
{
    /// <summary>Concurrent sessions at the peak.</summary>
    public int Sessions { get; init; } = 100;

    /// <summary>How long the peak is held (after the ramp up, before the ramp down).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Zero: all sessions start at once. Otherwise the target rises from 10% to 100% over this time, holds, then falls back to 0 over the same time.</summary>
    public TimeSpan Ramp { get; init; } = TimeSpan.Zero;

    public TimeSpan FrameLength { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Candidate speech per utterance, then silence so the simulated provider answers.</summary>
    public TimeSpan Speech { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan Silence { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// <c>Fixed</c>: every utterance is <see cref="Speech"/> then <see cref="Silence"/>. <c>Realistic</c> (issue #13): the candidate
    /// answers for 10–40 s, waits for the agent's answer (the simulated provider then speaks 5–15 s) to finish, pauses 1–4 s, all
    /// drawn from <see cref="Seed"/> and the session's index; <see cref="Speech"/> and <see cref="Silence"/> are then unused.
    /// </summary>
    public LoadCadence Cadence { get; init; } = LoadCadence.Fixed;

    public int SampleRate { get; init; } = 24_000;

    /// <summary>Extra latency the simulated provider adds before answering (passed to the silos' configuration); null keeps the silo's default.</summary>
    public TimeSpan? ProviderLatency { get; init; }

    /// <summary>Creates per second at most; 0 means as fast as the cluster takes them.</summary>
    public double CreateRate { get; init; } = 500;

    /// <summary>Silo processes to start (multi-process cluster on Redis); 0 hosts one silo in this process (or none with <see cref="Redis"/>).</summary>
    public int SiloProcesses { get; init; }

    /// <summary>An existing Redis: with <see cref="SiloProcesses"/> the silos use it, without it the tester only connects to that cluster.</summary>
    public string? Redis { get; init; }

    public string ClusterId { get; init; } = "voiceactors";

    public TimeSpan? KillSiloAt { get; init; }

    public TimeSpan? DrainSiloAt { get; init; }

    public TimeSpan? RestartRedisAt { get; init; }

    /// <summary>How often the long-run cost sample (committed turns, largest keys by SCAN + MEMORY USAGE, silo heap) is taken; Redis input and silo RSS are read every second.</summary>
    public TimeSpan CostSampleEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A session whose calls keep failing for longer than this is lost.</summary>
    public TimeSpan RetryBudget { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Also write each utterance with RecordTurn. Off by default: the session checkpoints the provider's transcript turns itself.</summary>
    public bool RecordTurns { get; init; }

    /// <summary>Create every session with consent to recording, so the silos record both channels (issue #15's benchmark).</summary>
    public bool Record { get; init; }

    /// <summary>Record to a RADOS Gateway the tester starts (SCHED_IDLE, on loopback) instead of the silo's configured store.</summary>
    public bool RecordS3 { get; init; }

    /// <summary>
    /// The start of the run left out of the capacity figures (steady latency, max sessions at the p99 target, per-session CPU and
    /// memory): creates, provider connects and the JIT's tier-up all land there. The overall figures still include it.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan CeilingDuration { get; init; } = TimeSpan.FromSeconds(5);

    public int CeilingConcurrency { get; init; } = 512;

    /// <summary>How long to measure admission decisions, then whole creates, before the sessions' run; zero skips it (it opens sessions).</summary>
    public TimeSpan AdmissionCeilingDuration { get; init; }

    public int AdmissionCeilingConcurrency { get; init; } = 64;

    /// <summary>Latency target for the "max sessions at p99" figure and the exit code.</summary>
    public double? MaxP99Ms { get; init; }

    public int? MaxLost { get; init; }

    public string TenantId { get; init; } = "loadtest";

    public int Seed { get; init; } = 7;

    /// <summary>Extra configuration for the silos (key, value), e.g. <c>Sessions:WatchdogPeriod</c>.</summary>
    public IReadOnlyDictionary<string, string?> SiloSettings { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// Also report the in-process silo's own audio latency histogram per path (what the silo adds, without the client's hop):
    /// the measurement BENCHMARKS.md's "server-added latency per frame" table comes from.
    /// </summary>
    public bool SiloLatency { get; init; }

    /// <summary>How candidates reach the silo: grain calls with an in-silo sink (the default), or rtc-node participants in real LiveKit rooms.</summary>
    public LoadTransport Transport { get; init; } = LoadTransport.Grain;

    public bool UsesSiloProcesses => SiloProcesses > 0 || KillSiloAt is not null || DrainSiloAt is not null || RestartRedisAt is not null;

    public int EffectiveSiloProcesses => SiloProcesses > 0 ? SiloProcesses : UsesSiloProcesses ? 3 : 0;

    public TimeSpan TotalTime => Ramp + Duration + Ramp;

    /// <summary>The problems with these options, each saying what to change; empty when they can run.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Sessions < 1) errors.Add("--sessions must be at least 1.");
        if (Duration <= TimeSpan.Zero) errors.Add("--duration must be positive.");
        if (Ramp < TimeSpan.Zero) errors.Add("--ramp cannot be negative.");
        if (FrameLength < TimeSpan.FromMilliseconds(5) || FrameLength > TimeSpan.FromMilliseconds(200))
            errors.Add("--frame-ms must be between 5 and 200: real-time audio frames are 10–60 ms.");
        if (Speech < FrameLength || Silence < FrameLength) errors.Add("--speech-ms and --silence-ms must each be at least one frame.");
        if (SampleRate is not (8_000 or 16_000 or 24_000 or 48_000)) errors.Add("--sample-rate must be 8000, 16000, 24000 or 48000.");
        if (CreateRate < 0) errors.Add("--create-rate cannot be negative (0 means unlimited).");
        if (SiloProcesses < 0) errors.Add("--silos cannot be negative.");
        if (DrainSiloAt is not null && EffectiveSiloProcesses < 2)
            errors.Add("--drain-silo-at needs at least 2 silo processes (--silos 2 or more).");
        if (RestartRedisAt is not null && Redis is not null)
            errors.Add("--restart-redis-at restarts the redis-server the tester started itself; drop --redis to let it start one.");
        foreach (var (name, at) in new[] { ("--kill-silo-at", KillSiloAt), ("--drain-silo-at", DrainSiloAt), ("--restart-redis-at", RestartRedisAt) })
            if (at is { } t && (t <= TimeSpan.Zero || t >= TotalTime))
                errors.Add($"{name} must fall inside the run (0 < T < {TotalTime.TotalSeconds:0.#}s).");
        if (RetryBudget < TimeSpan.FromSeconds(1)) errors.Add("--retry-budget must be at least 1s: a silo failover takes seconds.");
        if (Warmup < TimeSpan.Zero) errors.Add("--warmup cannot be negative.");
        if (CostSampleEvery < TimeSpan.FromSeconds(1)) errors.Add("--cost-sample-every must be at least 1s: each sample scans the session keys.");
        if (CeilingDuration < TimeSpan.Zero) errors.Add("--ceiling-duration cannot be negative (0 skips the ceiling).");
        if (CeilingConcurrency < 1) errors.Add("--ceiling-concurrency must be at least 1.");
        if (AdmissionCeilingDuration < TimeSpan.Zero) errors.Add("--admission-ceiling-duration cannot be negative (0 skips it).");
        if (AdmissionCeilingConcurrency < 1) errors.Add("--admission-ceiling-concurrency must be at least 1.");
        if (SiloLatency && (UsesSiloProcesses || Redis is not null))
            errors.Add("--silo-latency reads the silo's histogram in this process: use it with the in-process silo (no --silos, --redis or chaos).");
        if (MaxP99Ms is <= 0) errors.Add("--max-p99-ms must be positive.");
        if (MaxLost is < 0) errors.Add("--max-lost cannot be negative.");
        if (Transport == LoadTransport.LiveKit) errors.AddRange(LiveKit.LiveKitLoadRunner.Validate(this));
        return errors;
    }

    /// <summary>Target concurrent sessions at <paramref name="elapsed"/> into the run (the ramp profile).</summary>
    public int TargetAt(TimeSpan elapsed)
    {
        if (elapsed < TimeSpan.Zero || elapsed >= TotalTime) return 0;
        if (Ramp == TimeSpan.Zero) return Sessions;
        var floor = Math.Max(1, Sessions / 10);
        if (elapsed < Ramp) return floor + (int)((Sessions - floor) * (elapsed / Ramp));
        if (elapsed < Ramp + Duration) return Sessions;
        var down = (elapsed - Ramp - Duration) / Ramp;
        return (int)Math.Round(Sessions * (1 - down));
    }
}

/// <summary>
/// <c>grain</c>: each session pushes frames with grain calls through an Orleans client and takes provider audio on an attached sink
/// (the path the media socket feeds). <c>livekit</c>: each candidate is an rtc-node participant in a real room of the silo's
/// stand-in SFU, and the agent joins through the silo's media bridge (<see cref="LiveKit.LiveKitLoadRunner"/>).
/// </summary>
public enum LoadTransport
{
    Grain,
    LiveKit,
}

public enum LoadCadence
{
    Fixed,
    Realistic,
}
