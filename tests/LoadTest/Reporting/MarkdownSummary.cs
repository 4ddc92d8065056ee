using System.Globalization;
using System.Text;
using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.LoadTest.Reporting;

/// <summary>The human-readable summary of a report (written next to the JSON as FILE.md and printed at the end).</summary>
public static class MarkdownSummary
{
    public static string Render(LoadReport r)
    {
        var b = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        b.AppendLine("# Load test summary").AppendLine();
        b.AppendLine(c, $"`{r.Command}`").AppendLine();
        b.AppendLine(c, $"Cluster: {r.Cluster}. Started {r.StartedAt}; {r.Config.ProcessorCount} cores visible.").AppendLine();
        b.AppendLine("| figure | value |").AppendLine("|---|---|");
        Row(b, "sessions started / completed / lost", $"{r.Sessions.Started} / {r.Sessions.Completed} / {r.Sessions.Lost}");
        Row(b, "peak concurrent sessions", r.Sessions.PeakConcurrent.ToString(c));
        Row(b, $"max concurrent sessions before a 1 s window's p99 went over {r.Sessions.P99TargetMs} ms", r.Sessions.MaxAtP99Target.ToString(c));
        Row(b, "frames sent / acked / received / lost", $"{r.Frames.Sent} / {r.Frames.Acked} / {r.Frames.Received} / {r.Frames.Lost}");
        Row(b, "real-time ratio (frames sent / frames due)", r.Frames.RealTimeRatio.ToString(c));
        Row(b, "audio path latency ms (p50 / p95 / p99 / max)", Percentiles(r.LatencyMs));
        Row(b, $"  after the {r.Config.WarmupS:0.#} s warm-up", Percentiles(r.LatencySteadyMs));
        Row(b, "  inbound: push acknowledged", Percentiles(r.LatencyInboundMs));
        Row(b, "  outbound: provider stamp to sink", Percentiles(r.LatencyOutboundMs));
        Row(b, "turn latency ms (end of speech to first reply audio)", Percentiles(r.TurnMs));
        foreach (var (path, latency) in r.SiloLatencyMs ?? new Dictionary<string, LatencySummary>())
            Row(b, $"silo voice_audio_latency_ms {path}, after the warm-up", Percentiles(latency));
        if (r.Recording is { } rec)
        {
            Row(b, "recording CPU per session (encoder threads + sealing), ms per second of audio", $"{rec.CpuMsPerSessionSecond.ToString(c)} (encode {rec.EncodeCpuS.ToString(c)} s + seal {rec.SealCpuS.ToString(c)} s for {rec.AudioSeconds.ToString(c)} s of audio encoded in {rec.Seconds.ToString(c)} s, {rec.Sessions} sessions)");
            Row(b, "sessions one core records at that cost", rec.SessionsPerRecordingCore.ToString(c));
            Row(b, "recording worker process CPU (encode + seal + store + pipe + GC), ms per second of audio", $"{rec.WorkerCpuMsPerSessionSecond.ToString(c)} ({rec.WorkerCpuS.ToString(c)} s)");
            if (rec.StoreCpuMsPerSessionSecond is { } store)
                Row(b, "object store's own processes (RADOS Gateway, OSD, monitor), ms per second of audio", $"{store.ToString(c)} ({rec.StoreCpuS?.ToString(c)} s)");
            if (r.Silos is { CpuCoresAtPlateau: > 0 } silo && rec.Seconds > 0 && rec.WorkerCpuS > 0)
            {
                var cores = silo.CpuCoresAtPlateau + rec.WorkerCpuS / rec.Seconds;
                Row(b, "sessions per core, silo + recording worker (store excluded; an in-process silo's CPU includes the tester)", $"{Math.Round(rec.Sessions / cores, 0).ToString(c)} ({Math.Round(cores, 3).ToString(c)} cores)");
            }
            Row(b, "recording chunks stored / dropped; frames dropped; store errors (plateau)", $"{rec.ChunksStored} / {rec.ChunksDropped}; {rec.FramesDropped}; {rec.StoreErrors}");
        }
        Row(b, "create ms (p50 / p95 / p99)", $"{r.CreateMs.P50} / {r.CreateMs.P95} / {r.CreateMs.P99}");
        Row(b, "creates per second", r.CreatesPerS.ToString(c));
        Row(b, "turns spoken / answered / unanswered / recorded", $"{r.Turns.Spoken} / {r.Turns.Answered} / {r.Turns.Unanswered} / {r.Turns.Recorded}");
        Row(b, "errors", r.Errors.ToString(c));
        Row(b, "ceiling: ping calls per second", r.Ceiling.CallsPerS.ToString("N0", c));
        Row(b, "ceiling ratio (audio messages/s at plateau / ping calls/s)", $"{r.Ceiling.Ratio} ({r.Ceiling.AudioMessagesPerS:N0} audio messages/s)");
        if (r.AdmissionCeiling is { } a)
        {
            Row(b, "admission ceiling: decisions per second", $"{a.AdmissionsPerS.ToString("N0", c)} ({a.AdmissionCpuUs.ToString(c)} µs CPU each)");
            Row(b, "admission ceiling: whole creates per second", $"{a.CreatesPerS.ToString("N0", c)} ({a.CreateCpuUs.ToString(c)} µs CPU each; {a.Concurrency} callers; {a.Refused} refused, {a.Failures} failed)");
            Row(b, "admission ceiling: create ms (p50 / p95 / p99)", $"{a.CreateMs.P50} / {a.CreateMs.P95} / {a.CreateMs.P99}");
        }
        if (r.Silos is { } s)
        {
            Row(b, "silo CPU at plateau (cores)", s.CpuCoresAtPlateau.ToString(c));
            Row(b, "sessions per core", s.SessionsPerCore.ToString(c));
            Row(b, "silo working set idle / plateau / peak (MiB)", $"{s.WorkingSetIdleMb} / {s.WorkingSetPlateauMb} / {s.WorkingSetPeakMb}");
            Row(b, "memory per active session (KiB)", s.MemoryPerSessionKb.ToString(c));
        }
        foreach (var x in r.Chaos)
            Row(b, $"chaos {x.Kind} at {x.AtS} s", $"{x.SessionsInterrupted} sessions interrupted, all audio flowing again after {x.RecoveryS} s (mean outage {x.MeanOutageS} s), {x.SessionsLostAfter} lost");
        if (r.ErrorKinds.Count > 0)
            Row(b, "error kinds", string.Join(", ", r.ErrorKinds.Select(e => $"{e.Key} x{e.Value}")));
        if (r.LostReasons.Count > 0)
            Row(b, "lost because", string.Join(", ", r.LostReasons.Select(e => $"{e.Key} x{e.Value}")));
        if (r.LongRun is { } lr) LongRun(b, lr, c);
        b.AppendLine();
        b.AppendLine(r.Thresholds.Passed ? "Thresholds: passed." : $"Thresholds: FAILED: {string.Join("; ", r.Thresholds.Failures)}.");
        foreach (var n in r.Notes) b.AppendLine().AppendLine(c, $"Note: {n}");
        return b.ToString();
    }

    /// <summary>Issue #13's "Done when", answered one line each, then minute by minute.</summary>
    private static void LongRun(StringBuilder b, LongRunFigures l, CultureInfo c)
    {
        static string N(double? v, CultureInfo c) => v?.ToString("0.###", c) ?? "n/a";
        b.AppendLine().AppendLine("## Long-interview cost (issue #13)").AppendLine();
        b.AppendLine("| figure | value |").AppendLine("|---|---|");
        Row(b, $"Redis bytes per committed turn, first {l.WindowS:0} s / last {l.WindowS:0} s (ratio)", $"{N(l.EarlyBytesPerTurn, c)} / {N(l.LateBytesPerTurn, c)} ({N(l.BytesPerTurnRatio, c)})");
        Row(b, $"silo RSS at minute {l.ReferenceMinute} / last minute, MiB (ratio)", $"{N(l.RssAtReferenceMb, c)} / {N(l.RssLastMinuteMb, c)} ({N(l.RssRatio, c)})");
        Row(b, $"silo managed heap at minute {l.ReferenceMinute} / last minute, MiB", $"{N(l.HeapAtReferenceMb, c)} / {N(l.HeapLastMinuteMb, c)}");
        Row(b, $"audio p99 at minute {l.ReferenceMinute} / last minute, ms", $"{N(l.P99AtReferenceMs, c)} / {N(l.P99LastMinuteMs, c)}");
        Row(b, "sessions lost", l.SessionsLost.ToString(c));
        Row(b, "committed turns lost (in the tester's transcripts, missing from the silo's log)", $"{l.CommittedTurnsLost} in {l.SessionsWithLostTurns} sessions ({l.TurnsCommitted} turns in the logs, {l.TurnsSeenByTester} transcripts received)");
        Row(b, "provider rotations (planned / expired)", $"{l.Rotations} ({l.RotationsPlanned} / {l.RotationsExpired})");
        Row(b, "unanswered turns at a rotation (rotations clear of chaos)", l.UnansweredAtRotations.ToString(c));
        Row(b, "rotations during a chaos outage, and their unanswered turns", $"{l.RotationsNearChaos}, {l.UnansweredAtRotationsNearChaos}");
        Row(b, "largest silence inside an answer at a rotation, ms (median answer's: ms)", $"{N(l.MaxGapAtRotationMs, c)} ({N(l.MedianAnswerMaxGapMs, c)})");
        Row(b, "slowest reply after a rotation clear of chaos, ms (median reply: ms); replies slower than 3 s", $"{N(l.MaxReplyAfterRotationMs, c)} ({N(l.MedianReplyMs, c)}); {l.SlowRepliesAfterRotations}");
        Row(b, "largest session state key / session-log list (bytes, MEMORY USAGE)", $"{l.LargestStateKeyBytes} ({l.LargestStateKey ?? "none"}) / {l.LargestLogKeyBytes}");
        if (l.P99Comparison is { } p) P99(b, p, c);
        if (l.RotationGaps is { } g) Rotations(b, g, c);
        b.AppendLine().AppendLine("The last row is the partial minute after the sessions were asked to stop (their completes and post-session work).");
        b.AppendLine().AppendLine("| minute | audio p99 ms | silo RSS MiB | heap MiB | Redis in B/s | turns committed |").AppendLine("|---|---|---|---|---|---|");
        foreach (var m in l.Minutes)
            b.AppendLine(c, $"| {m.Minute} | {m.P99Ms} ({m.Samples:N0}) | {N(m.RssMb, c)} | {N(m.HeapMb, c)} | {N(m.RedisInputBytesPerS, c)} | {m.TurnsCommitted?.ToString(c) ?? "n/a"} |");
        b.AppendLine();
        foreach (var m in l.Method) b.AppendLine(c, $"- {m}");
    }

    private static void P99(StringBuilder b, P99Comparison p, CultureInfo c)
    {
        static string N(double? v, CultureInfo c) => v?.ToString("0.###", c) ?? "n/a";
        b.AppendLine().AppendLine(c, $"### Audio p99, minute {p.ReferenceMinute} against minute {p.LastMinute} (exact to the µs)").AppendLine();
        b.AppendLine("| figure | value |").AppendLine("|---|---|");
        Row(b, $"p99 at minute {p.ReferenceMinute} / minute {p.LastMinute}, ms (difference)", $"{N(p.ReferenceMs, c)} / {N(p.LastMs, c)} ({N(p.DifferenceMs, c)})");
        Row(b, $"p99 of the {p.WindowMinutes} minutes ending at each, ms (difference)", $"{N(p.ReferenceWindowMs, c)} / {N(p.LastWindowMs, c)} ({N(p.WindowDifferenceMs, c)})");
        Row(b, "noise: sd of a clear minute's p99 / of a clear block's, ms (n)", $"{N(p.MinuteSdMs, c)} ({p.ClearMinutes}) / {N(p.WindowSdMs, c)} ({p.ClearWindows})");
        Row(b, "clear minutes before the first chaos event / after the last, p99 ms", $"{N(p.BeforeChaosMs, c)} / {N(p.AfterChaosMs, c)}");
        Row(b, $"p99 of each {p.WindowMinutes}-minute block, ms (* touches chaos or minute 1)", string.Join(", ", p.Windows.Select(w => string.Create(c, $"{w.FromMinute}–{w.ToMinute}: {w.P99Ms}{(w.Clear ? "" : "*")}"))));
    }

    private static void Rotations(StringBuilder b, RotationFigures g, CultureInfo c)
    {
        static string D(GapDistribution? d, CultureInfo c) => d is null ? "none" : string.Create(c, $"{d.P50} / {d.P99} / {d.Max} ({d.Count:N0})");
        static string N(double? v, CultureInfo c) => v?.ToString("0.###", c) ?? "n/a";
        var target = RotationGaps.GapTarget.TotalMilliseconds;
        b.AppendLine().AppendLine("### Rotations as the candidate heard them (clear of chaos)").AppendLine();
        b.AppendLine("| figure | p50 / p99 / max ms (n) |").AppendLine("|---|---|");
        Row(b, "longest silence in the answers next to a rotation (raw)", D(g.GapMs, c));
        Row(b, "  less what the median non-rotating answer playing then heard (stall-separated)", D(g.SeparatedGapMs, c));
        Row(b, "longest silence of every answer not next to a rotation", D(g.OtherAnswersGapMs, c));
        Row(b, "reply after a rotation (end of speech to first agent frame)", D(g.ReplyMs, c));
        Row(b, "every other reply", D(g.OtherRepliesMs, c));
        Row(b, $"rotations with a silence over {target:0} ms: raw / stall-separated", $"{g.GapsOverTarget} / {g.SeparatedOverTarget} of {g.Measured}");
        if (g.Gaps.Count == 0) return;
        b.AppendLine().AppendLine(c, $"Every rotation with a silence over {target:0} ms, then the widest others (up to {RotationGaps.Listed}; the first {MaxGapRows} of {g.Gaps.Count} here, all in the JSON):").AppendLine();
        b.AppendLine("| rotation at s | side | silence ms, ended at s | reply after ms | other answers playing: max / median ms, over target | separated ms | 1 s p99 then ms | tester sampler stalled |")
            .AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var x in g.Gaps.Take(MaxGapRows)) // all of them are in the JSON
            b.AppendLine(c, $"| {x.AtS} | {x.Side} | {x.GapMs}, {x.GapEndS} | {N(x.ReplyMs, c)} | {x.OthersPlaying}: {N(x.OthersMaxMs, c)} / {N(x.OthersMedianMs, c)}, {x.OthersOverTarget} | {x.SeparatedMs} | {N(x.SecondP99Ms, c)} | {(x.SamplerStalled ? "yes" : "no")} |");
    }

    /// <summary>Rows of the rotation list in the summary; a contended run can have hundreds, the JSON keeps every one.</summary>
    private const int MaxGapRows = 40;

    private static string Percentiles(LatencySummary l) =>
        l.Count == 0 ? "no samples" : string.Create(CultureInfo.InvariantCulture, $"{l.P50} / {l.P95} / {l.P99} / {l.Max} ({l.Count:N0} samples)");

    private static void Row(StringBuilder b, string name, string value) => b.Append("| ").Append(name).Append(" | ").Append(value).AppendLine(" |");
}
