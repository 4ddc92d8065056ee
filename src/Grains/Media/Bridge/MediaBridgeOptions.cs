using Microsoft.Extensions.Options;

namespace VoiceActors.Media.Bridge;

/// <summary>The agent's media bridge processes (<c>MediaBridge</c>). Defaults were measured on a 2-core machine (BENCHMARKS.md).</summary>
public sealed class MediaBridgeOptions
{
    public const string Section = "MediaBridge";

    /// <summary>Off: the bridge reports itself unavailable and starts nothing.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Node executable: a path, or a name looked up on PATH.</summary>
    public string NodePath { get; set; } = "node";

    /// <summary>The bridge script; empty: <c>media/bridge/index.js</c> next to the silo, else <c>src/media/bridge/index.js</c> in the repository above it.</summary>
    public string? ScriptPath { get; set; }

    /// <summary>
    /// Sessions one process carries before the next process is started. Measured (contended 2-core machine, BENCHMARKS.md):
    /// 10 sessions took 0.83 core and kept every frame; 25 saturated the process at ~1.07 core and dropped most agent audio.
    /// </summary>
    public int MaxSessionsPerProcess { get; set; } = 10;

    /// <summary>A process takes no new sessions after this many joins and is retired when its last session leaves (rtc-node leaks natively on connect/disconnect cycles).</summary>
    public int RecycleAfterSessions { get; set; } = 200;

    /// <summary>A process whose resident memory reaches this is drained and retired the same way.</summary>
    public int RecycleRssMegabytes { get; set; } = 1536;

    /// <summary>
    /// rtc-node <c>AudioSource</c> queue: agent audio buffered ahead of the encoder (a multiple of 10). Measured one-way through
    /// the stand-in SFU (BENCHMARKS.md): 1000 ms is no slower than 50 ms and absorbs provider bursts; 100 ms is slower; 0 plays
    /// nothing (rtc-node 1.1.0 chunks the frame by the queue size). Pinned by MediaBridgeOptionsTests and the e2e latency probe.
    /// </summary>
    public int SourceQueueMilliseconds { get; set; } = 1000;

    /// <summary>Agent frames a session may queue in the silo while the pipe is busy (drop-oldest, counted); candidate frames likewise.</summary>
    public int SiloQueueFrames { get; set; } = 50;

    /// <summary>Agent frames a session may queue in the bridge ahead of the AudioSource: providers send faster than real time.</summary>
    public int BridgeOutQueueFrames { get; set; } = 500;

    /// <summary>Candidate frames a session may queue in the bridge while the silo reads slowly.</summary>
    public int BridgeInQueueFrames { get; set; } = 25;

    public TimeSpan RestartBackoffInitial { get; set; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan RestartBackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A process that ran this long before dying resets the backoff.</summary>
    public TimeSpan RestartBackoffReset { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a process may take to leave its rooms after stdin closes before it is killed.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan StatsInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Let the bridge auto-subscribe to every track (for SFUs without selective subscription); it still reads only the candidate's.</summary>
    public bool AutoSubscribe { get; set; }

    /// <summary>Tests of the pipe and the supervisor: rooms are replaced by a loopback in the bridge (no SFU).</summary>
    public bool FakeRooms { get; set; }
}

public sealed class MediaBridgeOptionsValidator : OptionsValidator<MediaBridgeOptions>
{
    protected override void Check(string? name, MediaBridgeOptions o, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(o.NodePath)) errors.Add("MediaBridge:NodePath must name the Node executable (default \"node\").");
        if (o.MaxSessionsPerProcess is < 1 or > 200) errors.Add("MediaBridge:MaxSessionsPerProcess must be 1..200: one JS thread saturates near 85 sessions.");
        if (o.RecycleAfterSessions < o.MaxSessionsPerProcess) errors.Add("MediaBridge:RecycleAfterSessions must be at least MaxSessionsPerProcess, or a process is recycled before it is full.");
        if (o.RecycleRssMegabytes < 256) errors.Add("MediaBridge:RecycleRssMegabytes must be at least 256: one session's process already takes about 100 MB.");
        if (o.SourceQueueMilliseconds is < 10 or > 5000 || o.SourceQueueMilliseconds % 10 != 0) errors.Add("MediaBridge:SourceQueueMilliseconds must be a multiple of 10 in 10..5000: rtc-node asserts the multiple, and 0 plays no audio at all.");
        if (o.SiloQueueFrames is < 1 or > 1000) errors.Add("MediaBridge:SiloQueueFrames must be 1..1000: it bounds memory per session.");
        if (o.BridgeOutQueueFrames is < 1 or > 5000) errors.Add("MediaBridge:BridgeOutQueueFrames must be 1..5000 (100 s of audio).");
        if (o.BridgeInQueueFrames is < 1 or > 1000) errors.Add("MediaBridge:BridgeInQueueFrames must be 1..1000.");
        if (o.RestartBackoffInitial <= TimeSpan.Zero || o.RestartBackoffMax < o.RestartBackoffInitial) errors.Add("MediaBridge:RestartBackoffInitial must be positive and at most RestartBackoffMax.");
        if (o.StopGrace <= TimeSpan.Zero) errors.Add("MediaBridge:StopGrace must be positive.");
        if (o.StatsInterval < TimeSpan.FromMilliseconds(100)) errors.Add("MediaBridge:StatsInterval must be at least 100ms: stats are for recycling and metrics, not per frame.");
    }
}
