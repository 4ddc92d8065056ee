using System.Text.Json;
using System.Text.Json.Serialization;
using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.LoadTest.Reporting;

/// <summary>
/// The JSON report. Field names are part of the outside contract (../shared/CONTRACT.md, "Load tester"): keep
/// <c>sessions.*</c>, <c>frames.*</c>, <c>latency_ms.*</c>, <c>create_ms.*</c>, <c>errors</c> and <c>ceiling.*</c> as they are.
/// <c>silo_latency_ms</c> (by path) is there only with <c>--silo-latency</c>; <c>recording</c> only with it and <c>--record</c>.
/// </summary>
public sealed record LoadReport(
    string StartedAt,
    string Command,
    string Cluster,
    ReportConfig Config,
    SessionFigures Sessions,
    FrameFigures Frames,
    LatencySummary LatencyMs,
    LatencySummary LatencySteadyMs,
    LatencySummary LatencyInboundMs,
    LatencySummary LatencyOutboundMs,
    LatencySummary CreateMs,
    LatencySummary JoinMs,
    double CreatesPerS,
    TurnFigures Turns,
    LatencySummary TurnMs,
    long Errors,
    IReadOnlyDictionary<string, long> ErrorKinds,
    IReadOnlyDictionary<string, long> LostReasons,
    CeilingFigures Ceiling,
    AdmissionCeilingFigures? AdmissionCeiling,
    SiloFigures? Silos,
    IReadOnlyList<ChaosFigures> Chaos,
    IReadOnlyList<WindowSample> Timeline,
    ThresholdFigures Thresholds,
    IReadOnlyList<string> Notes,
    IReadOnlyDictionary<string, LatencySummary>? SiloLatencyMs = null,
    IReadOnlyList<VoiceActors.LoadTest.Metrics.ChaosAudioFigures>? ChaosAudio = null,
    RecordingFigures? Recording = null)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

public sealed record ReportConfig(
    int Sessions, double DurationS, double RampS, double FrameMs, double SpeechMs, double SilenceMs, int SampleRate,
    double? ProviderLatencyMs, double CreateRate, int SiloProcesses, double? KillSiloAtS, double? DrainSiloAtS,
    double? RestartRedisAtS, double RetryBudgetS, bool RecordTurns, int Seed, int ProcessorCount, double WarmupS);

/// <param name="MaxAtP99Target">The most concurrent sessions carried before the first one-second window (after 3 s of warm-up) whose audio p99 went over <paramref name="P99TargetMs"/>; run with --ramp to find the limit.</param>
public sealed record SessionFigures(long Started, long Completed, long Lost, int PeakConcurrent, int MaxAtP99Target, double P99TargetMs);

/// <param name="Lost">Audio that did not make it: failed pushes, frames the client had to drop, and gaps in provider audio.</param>
/// <param name="RealTimeRatio">Frames sent ÷ frames real time called for: below ~0.95 the tester itself was starved of CPU and the run did not carry its load.</param>
/// <param name="AfterEnd">Frames the pump sent in the instant their session was being completed (refused by the ended session; not lost audio).</param>
public sealed record FrameFigures(long Sent, long Acked, long Received, long Lost, long FailedPushes, long DroppedByClient, long ProviderGaps, long LateAtClient, double RealTimeRatio, long AfterEnd = 0);

public sealed record TurnFigures(long Spoken, long Answered, long Unanswered, long Recorded, long Transcripts);

/// <param name="Ratio">Audio-path messages per second (frames sent + received, at the plateau) ÷ ping calls per second.</param>
public sealed record CeilingFigures(double CallsPerS, double Ratio, double AudioMessagesPerS, int Concurrency, double Seconds, long Failures);

/// <summary>Closed-loop admission decisions alone, then whole creates through admission (null when not measured).</summary>
/// <param name="AdmissionCpuUs">CPU of the measured processes per admission decision (in process: silo, client and tester together).</param>
/// <param name="CreateCpuUs">CPU per whole create, measured the same way: 1e6 ÷ this is creates per second per core.</param>
/// <param name="Refused">Creates refused with 429 (region full) while measuring: raise <c>Silo:MaxConcurrentSessions</c> to measure past capacity.</param>
public sealed record AdmissionCeilingFigures(
    double AdmissionsPerS, double AdmissionCpuUs, long AdmissionsRefused, double CreatesPerS, double CreateCpuUs, LatencySummary CreateMs, long Refused, long Failures, int Concurrency, double Seconds);

/// <param name="CpuCoresAtPlateau">Average cores the silos used while the sessions were at their peak.</param>
/// <param name="MemoryPerSessionKb">(working set at the plateau − working set idle) ÷ peak sessions.</param>
public sealed record SiloFigures(
    string Measured, double CpuCoresAtPlateau, double SessionsPerCore, double WorkingSetIdleMb, double WorkingSetPlateauMb,
    double WorkingSetPeakMb, double MemoryPerSessionKb, double CpuSecondsTotal);

/// <param name="SessionsInterrupted">Sessions whose calls failed after the event (and recovered, or were lost).</param>
/// <param name="RecoveryS">From the event until the last interrupted session's audio flowed again.</param>
public sealed record ChaosFigures(string Kind, double AtS, int SessionsInterrupted, double RecoveryS, double MeanOutageS, long SessionsLostAfter);

public sealed record WindowSample(
    double T, int Target, int Active, double FramesSentPerS, double FramesReceivedPerS, double P99Ms, long Samples,
    double? SiloCpuCores, double? SiloWorkingSetMb);

public sealed record ThresholdFigures(double? MaxP99Ms, int? MaxLost, bool Passed, IReadOnlyList<string> Failures);
