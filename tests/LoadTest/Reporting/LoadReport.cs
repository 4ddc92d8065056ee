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
    RecordingFigures? Recording = null,
    LongRunFigures? LongRun = null)
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

/// <summary>
/// One second of the run. The long-run fields (issue #13) are there when the tester started the silos on Redis:
/// <paramref name="RedisInputBytesPerS"/> and the silos' resident memory every second; the committed turns, bytes per turn,
/// largest session keys and managed heap on the rows where the ~10 s cost sample landed (null on the others).
/// </summary>
/// <param name="RedisInputBytesPerS">Δ <c>total_net_input_bytes</c> (Redis' own counter: every byte of every client command it read, RESP framing included) less the tester's own probe commands.</param>
/// <param name="TranscriptsPerS">Transcript turns that reached the tester's sinks this second (each one is forwarded after its checkpoint).</param>
/// <param name="TurnsCommitted">Σ LLEN of the sessions' turn lists at this sample: the turns the silo has committed so far.</param>
/// <param name="RedisBytesPerTurn">Redis input bytes ÷ turns committed since the previous cost sample.</param>
public sealed record WindowSample(
    double T, int Target, int Active, double FramesSentPerS, double FramesReceivedPerS, double P99Ms, long Samples,
    double? SiloCpuCores, double? SiloWorkingSetMb,
    double? RedisInputBytesPerS = null, double? TranscriptsPerS = null, double? SiloRssMb = null, IReadOnlyList<double>? SiloRssEachMb = null,
    long? TurnsCommitted = null, double? RedisBytesPerTurn = null, long? LargestStateKeyBytes = null, long? LargestLogKeyBytes = null,
    double? SiloManagedHeapMb = null, double? TesterHeapMb = null);

/// <summary>The 10 s cost sample (issue #13): cumulative Redis input (less the probe's own), committed turns, largest session keys, silo heap.</summary>
public sealed record CostSample(double T, long? RedisInputBytes, long? TurnsCommitted, KeySizes? Keys, double? SiloHeapMb);

/// <summary>
/// The answers to issue #13's "Done when", from one run. Windows: <paramref name="WindowS"/> = min(300 s, run ÷ 4); the early window starts
/// after the warm-up (creates excluded). The reference minute is minute 10 (or, in a run shorter than 20 minutes, its middle minute).
/// </summary>
public sealed record LongRunFigures(
    double WindowS,
    double? EarlyBytesPerTurn, double? LateBytesPerTurn, double? BytesPerTurnRatio,
    int ReferenceMinute, double? RssAtReferenceMb, double? RssLastMinuteMb, double? RssRatio,
    double? HeapAtReferenceMb, double? HeapLastMinuteMb,
    double? P99AtReferenceMs, double? P99LastMinuteMs,
    long SessionsLost,
    long TurnsCommitted, long TurnsSeenByTester, long CommittedTurnsLost, int SessionsWithLostTurns,
    int Rotations, int RotationsPlanned, int RotationsExpired, int RotationsNearChaos, int UnansweredAtRotationsNearChaos, int UnansweredAtRotations, int SlowRepliesAfterRotations, double? MaxGapAtRotationMs, double? MaxReplyAfterRotationMs,
    double? MedianAnswerMaxGapMs, double? MedianReplyMs,
    long LargestStateKeyBytes, string? LargestStateKey, long LargestLogKeyBytes,
    IReadOnlyList<MinuteFigures> Minutes,
    IReadOnlyList<string> Method,
    RotationFigures? RotationGaps = null,
    P99Comparison? P99Comparison = null);

/// <summary>One minute of the run: audio p99 and the silos' memory, for the minute-by-minute comparison.</summary>
public sealed record MinuteFigures(int Minute, double P99Ms, long Samples, double? RssMb, double? HeapMb, double? RedisInputBytesPerS, long? TurnsCommitted);

public sealed record ThresholdFigures(double? MaxP99Ms, int? MaxLost, bool Passed, IReadOnlyList<string> Failures);
