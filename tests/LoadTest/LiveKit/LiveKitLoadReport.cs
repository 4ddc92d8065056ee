using System.Globalization;
using System.Text;
using System.Text.Json;
using VoiceActors.LoadTest.Metrics;
using VoiceActors.LoadTest.Reporting;

namespace VoiceActors.LoadTest.LiveKit;

/// <summary>
/// The report of a <c>--transport livekit</c> run: candidates on rtc-node in real rooms of the silo's stand-in SFU, the agent
/// through the silo's media bridge. Figures "steady" cover the measured window only (after every candidate joined and the
/// warm-up passed).
/// </summary>
public sealed record LiveKitLoadReport(
    string StartedAt,
    string Command,
    string Transport,
    LiveKitMachine Machine,
    LiveKitConfig Config,
    LiveKitSessionFigures Sessions,
    LiveKitTurnFigures Turns,
    LatencySummary VoiceToVoiceMs,
    LatencySummary VoiceToVoiceSteadyMs,
    double ProviderShareMs,
    double VoiceToVoiceOursP50Ms,
    IReadOnlyDictionary<string, BucketPercentiles> SiloAddedLatencyMs,
    LiveKitFrameFigures Frames,
    IReadOnlyList<ComponentFigures> Components,
    double BridgeAndSiloSessionsPerCore,
    double BridgeAndSiloCores,
    LatencySummary JoinMs,
    LatencySummary AgentMs,
    LatencySummary CreateMs,
    IReadOnlyList<LiveKitWindow> Timeline,
    ThresholdFigures Thresholds,
    IReadOnlyList<string> Notes)
{
    public string ToJson() => JsonSerializer.Serialize(this, LoadReport.Json);

    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.AppendLine("# Load test summary (transport: livekit)").AppendLine();
        b.AppendLine(c, $"`{Command}`").AppendLine();
        b.AppendLine(c, $"Started {StartedAt}; {Machine.Cores} cores; load average at start {string.Join(", ", Machine.LoadAverageAtStart)}, at the end of the measured window {string.Join(", ", Machine.LoadAverageAtEnd)}.").AppendLine();
        b.AppendLine("| figure | value |").AppendLine("|---|---|");
        Row("sessions requested / joined / completed / lost", $"{Sessions.Requested} / {Sessions.Joined} / {Sessions.Completed} / {Sessions.Lost}");
        Row("measured window (s)", Config.SteadySeconds.ToString("0.#", c));
        Row("turns answered / unanswered (measured window)", $"{Turns.AnsweredSteady} / {Turns.UnansweredSteady}");
        Row("voice-to-voice ms at the candidate, measured window (p50 / p95 / p99 / max)", Percentiles(VoiceToVoiceSteadyMs));
        Row("  of which the simulated provider's own (pause detection + answer delay, mean)", ProviderShareMs.ToString("0.#", c));
        Row("  the rest, at p50 (candidate uplink + SFU + bridge + silo + downlink)", VoiceToVoiceOursP50Ms.ToString("0.#", c));
        foreach (var (path, l) in SiloAddedLatencyMs)
            Row($"silo voice_audio_latency_ms {path} (p50 / p95 / p99, p99 bucket ≤)", $"{l.P50} / {l.P95} / {l.P99} (≤ {l.P99AtMost}) ({l.Count:N0} samples)");
        Row("candidate frames sent / late (not sent in real time) / capture errors", $"{Frames.CandidateSent} / {Frames.CandidateLate} / {Frames.CaptureErrors}");
        Row("real-time ratio of the candidates", Frames.RealTimeRatio.ToString(c));
        Row("bridge frames in (candidate → silo) / out (agent → room)", $"{Frames.BridgeIn} / {Frames.BridgeOut}");
        Row("frames lost in the measured window (drops on the path + capture errors)", Frames.Lost.ToString(c));
        if (Frames.Drops.Count > 0) Row("  drops by where", string.Join(", ", Frames.Drops.Select(d => $"{d.Key} {d.Value}")));
        foreach (var x in Components)
            Row($"{x.Name} (pids {string.Join(",", x.Pids)}): cores / RSS MiB / sessions per core / MiB per session",
                $"{x.Cores} / {x.RssMb} / {x.SessionsPerCore} / {x.MemoryPerSessionMb}");
        Row("**bridge + silo: sessions per core**", $"**{BridgeAndSiloSessionsPerCore.ToString(c)}** ({BridgeAndSiloCores.ToString(c)} cores)");
        Row("join ms (candidate connect + publish)", Percentiles(JoinMs));
        Row("agent ms (candidate's join began → the agent's voice track subscribed)", Percentiles(AgentMs));
        Row("create ms (POST /v1/interviews)", Percentiles(CreateMs));
        b.AppendLine();
        b.AppendLine(Thresholds.Passed ? "Thresholds: passed." : $"Thresholds: FAILED: {string.Join("; ", Thresholds.Failures)}.");
        foreach (var n in Notes) b.AppendLine().AppendLine(c, $"Note: {n}");
        return b.ToString();

        void Row(string name, string value) => b.Append("| ").Append(name).Append(" | ").Append(value).AppendLine(" |");
        static string Percentiles(LatencySummary l) =>
            l.Count == 0 ? "no samples" : string.Create(CultureInfo.InvariantCulture, $"{l.P50} / {l.P95} / {l.P99} / {l.Max} ({l.Count:N0} samples)");
    }
}

public sealed record LiveKitMachine(int Cores, double[] LoadAverageAtStart, double[] LoadAverageAtSteadyStart, double[] LoadAverageAtEnd);

public sealed record LiveKitConfig(
    int Sessions, double SteadySeconds, double WarmupS, double SpeechMs, double SilenceMs, double CreateRate,
    double ProviderEndOfSpeechMs, double ProviderResponseLatencyMs, double ProviderResponseJitterMs, int MaxSessionsPerBridgeProcess, int Seed);

public sealed record LiveKitSessionFigures(int Requested, int Created, int Joined, int Completed, int Lost, IReadOnlyDictionary<string, int> LostReasons);

public sealed record LiveKitTurnFigures(long Answered, long AnsweredSteady, long Unanswered, long UnansweredSteady, LatencySummary HeardFramesPerAnswer);

/// <param name="Lost">Frames dropped on the path (every bounded queue of the silo and the bridge, both ways) plus the candidates' capture errors.</param>
/// <param name="RealTimeRatio">Candidate frames sent ÷ frames due: below ~0.95 the driver (or the machine) could not keep real time.</param>
public sealed record LiveKitFrameFigures(
    long CandidateSent, long CandidateLate, long CaptureErrors, double RealTimeRatio, long CandidateHeard,
    long BridgeIn, long BridgeOut, long Lost, IReadOnlyDictionary<string, long> Drops);

/// <param name="Cores">CPU cores used over the measured window (process CPU time ÷ wall time).</param>
/// <param name="MemoryPerSessionMb">(RSS at the end of the window − RSS before the first session) ÷ sessions; for processes started per session load (the bridge) the whole RSS.</param>
public sealed record ComponentFigures(string Name, IReadOnlyList<int> Pids, double Cores, double RssMb, double RssIdleMb, double SessionsPerCore, double MemoryPerSessionMb, double CpuMsPerSessionSecond);

public sealed record LiveKitWindow(
    double T, int Joined, long Turns, double V2vP50Ms, double SiloCores, double BridgeCores, double SfuCores, double CandidateCores,
    double SiloRssMb, double BridgeRssMb, double SfuRssMb, int BridgeProcesses);
