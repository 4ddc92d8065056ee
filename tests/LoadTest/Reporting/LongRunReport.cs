using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Metrics;
using VoiceActors.Sessions;

namespace VoiceActors.LoadTest.Reporting;

/// <summary>
/// Issue #13's figures from one run on Redis: what a turn costs at Redis early and late, the silos' memory and the audio p99 at the
/// reference minute and the last, what survived the chaos (sessions, committed turns), and what the candidate heard at provider
/// rotations. Built after the sessions completed, while the cluster is still up (it reads the session logs and timelines).
/// </summary>
public static class LongRunReport
{
    /// <summary>A reply after a rotation slower than this is counted (the simulated agent answers in about 0.7 s after the end of speech).</summary>
    public static readonly TimeSpan SlowReply = TimeSpan.FromSeconds(3);

    /// <summary>A rotation this close to a chaos event's outage is counted with the event.</summary>
    public static readonly TimeSpan AroundRotation = TimeSpan.FromSeconds(15);

    public static async Task<(LongRunFigures Figures, IReadOnlyList<WindowSample> Timeline)> BuildAsync(
        LongRunProbe probe, IClusterClient client, LoadOptions options, IReadOnlyList<SimulatedSession> sessions,
        IReadOnlyList<WindowSample> timeline, IReadOnlyList<CostSample> costs, IReadOnlyList<MinuteLatency> minutes,
        RunStats stats, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> chaos, DateTimeOffset runStartUtc, Action<string>? log, CancellationToken ct)
    {
        var merged = Merge(timeline, costs);
        var total = options.TotalTime.TotalSeconds;
        var window = Math.Min(300, total / 4);
        // At realistic cadence the first turns come after a first pause (≤ 20 s) and answer (≤ 40 s): the turn rate is steady after one minute.
        var earlyFrom = options.Warmup.TotalSeconds + (options.Cadence == LoadCadence.Realistic ? 60 : 0);
        var early = BytesPerTurn(costs, earlyFrom, earlyFrom + window);
        var late = BytesPerTurn(costs, total - window, total);

        var reference = total >= 20 * 60 ? 10 : Math.Max(1, (int)(total / 60 / 2));
        var last = Math.Max(1, (int)(total / 60));
        var rssRef = Mean(merged, reference, w => w.SiloRssMb);
        var rssLast = Mean(merged, last, w => w.SiloRssMb);
        var heapRef = Mean(merged, reference, w => w.SiloManagedHeapMb);
        var heapLast = Mean(merged, last, w => w.SiloManagedHeapMb);
        double? P99(int minute) => minutes.FirstOrDefault(m => m.Minute == minute) is { Latency.Count: > 0 } m ? m.Latency.P99 : null;
        var p99 = P99Comparison.Measure(minutes, reference, last, chaos.Select(c => ((c.From - runStartUtc).TotalSeconds, (c.To - runStartUtc).TotalSeconds)).ToArray());

        log?.Invoke("long run: reading every session's log length and timeline...");
        var ids = sessions.Select(s => s.SessionId).ToArray();
        var committed = await probe.CommittedTurnsAsync(ids) ?? [];
        long turnsCommitted = 0, turnsSeen = 0, turnsLost = 0;
        var sessionsWithLoss = 0;
        foreach (var s in sessions)
        {
            var inLog = committed.GetValueOrDefault(s.SessionId);
            turnsCommitted += inLog;
            turnsSeen += s.TranscriptsSeen;
            // The session forwards a transcript only after appending it: every turn the tester saw must be in the log.
            var missing = s.TranscriptsSeen - inLog;
            if (missing > 0)
            {
                turnsLost += missing;
                sessionsWithLoss++;
            }
        }

        var rotations = await RotationsAsync(client, options.TenantId, sessions, ct);
        var heard = rotations.Select(r =>
        {
            var (answers, unanswered, silences) = r.Session.Heard();
            var at = r.Rotations.Select(e => (e.At.UtcTicks, e.Detail?.StartsWith(Providers.ProviderRotation.Expired, StringComparison.Ordinal) == true)).ToArray();
            return new SessionHeard(r.Session.SessionId, answers, unanswered, silences, at);
        }).ToArray();
        var rot = RotationGaps.Measure(heard, chaos, runStartUtc, timeline, AroundRotation, SlowReply);

        var finalKeys = await probe.LargestKeysAsync(ct);
        long largestState = finalKeys?.LargestStateBytes ?? 0, largestLog = finalKeys?.LargestLogBytes ?? 0;
        var stateKey = finalKeys?.LargestStateKey;
        foreach (var c in costs)
        {
            if (c.Keys is not { } k) continue;
            if (k.LargestStateBytes > largestState) (largestState, stateKey) = (k.LargestStateBytes, k.LargestStateKey);
            largestLog = Math.Max(largestLog, k.LargestLogBytes);
        }

        var minuteFigures = new List<MinuteFigures>();
        foreach (var (minute, latency) in minutes.Select(m => (m.Minute, m.Latency)))
        {
            var rows = merged.Where(w => w.T > (minute - 1) * 60 && w.T <= minute * 60).ToArray();
            minuteFigures.Add(new MinuteFigures(minute, latency.P99, latency.Count,
                Round(rows.Select(w => w.SiloRssMb).OfType<double>().DefaultIfEmpty(double.NaN).Average()),
                Round(rows.Select(w => w.SiloManagedHeapMb).OfType<double>().DefaultIfEmpty(double.NaN).Average()),
                Round(rows.Select(w => w.RedisInputBytesPerS).OfType<double>().DefaultIfEmpty(double.NaN).Average()),
                rows.Select(w => w.TurnsCommitted).OfType<long>().DefaultIfEmpty(-1).Max() is var t and >= 0 ? t : null));
        }

        var figures = new LongRunFigures(
            Math.Round(window, 1), Round(early), Round(late), early is > 0 && late is { } l ? Math.Round(l / early.Value, 3) : null,
            reference, rssRef, rssLast, rssRef is > 0 && rssLast is { } rl ? Math.Round(rl / rssRef.Value, 3) : null,
            heapRef, heapLast, P99(reference), P99(last),
            Interlocked.Read(ref stats.SessionsLost),
            turnsCommitted, turnsSeen, turnsLost, sessionsWithLoss,
            rot.Rotations, rot.Planned, rot.Expired, rot.NearChaos, rot.UnansweredNearChaos, rot.UnansweredAt, rot.SlowReplies, rot.MaxGapAtRotationMs, rot.MaxReplyAfterRotationMs,
            rot.MedianAnswerMaxGapMs, rot.MedianReplyMs,
            largestState, stateKey, largestLog, minuteFigures,
            [
                "Redis bytes: Δ INFO stats total_net_input_bytes, Redis' own count of every byte it read from every client (silos' grain-state writes, session-log appends, reminders, membership, the Orleans client's and the probe's commands, RESP framing included), less the RESP size of the probe's own INFO/LLEN/SCAN/MEMORY USAGE commands (the client library's keep-alive PINGs stay in). A restarted redis-server counts from 0: the runs are added up, and the bytes between the last reading and the kill are not seen.",
                $"Bytes per turn: Δ bytes ÷ Δ committed turns between the ~10 s cost samples at the edges of each window (early: {earlyFrom:0.#} s to {earlyFrom + window:0.#} s, after the creates and, at realistic cadence, the first minute whose turn rate is still rising; late: the last {window:0.#} s before the sessions were asked to stop, so completes are not in it).",
                "Committed turns: Σ LLEN of {serviceId}/session-log/{id}/turns (the silo's own log). A committed turn is lost when a session's log holds fewer turns than the transcripts the tester received for it: the session forwards a transcript only after its append returned.",
                "Silo memory: VmRSS of each running silo process (/proc/<pid>/status) every second, summed; managed heap: dotnet_gc_last_collection_heap_size_bytes from each silo's /metrics every ~10 s. After a --kill-silo-at the figures are the replacement's (a fresh process).",
                $"Rotations: provider.rotated events of every session's timeline (planned before the budget, or expired at the cap). Rotations within {AroundRotation.TotalSeconds:0} s of a chaos event's outage (from the event until its last interrupted session's audio flowed again) are counted apart, with their unanswered turns: the outage explains those. The turns at a rotation are the session's last utterance that ended before it (the one whose answer it waited for) and the first that ended after it; unanswered: the agent never answered one of them. Gap at a rotation: the longest silence between two consecutive agent frames the tester received inside the answers to those two turns (baseline: the median of every answer's longest silence); reply after a rotation: end of the next utterance to the first frame of its answer (baseline: the median reply).",
                $"Gaps at rotations as a distribution (rotation_gaps): per rotation clear of chaos, the longest silence of the answers next to it and when it ended. Baseline at that moment: every answer of another session not next to any rotation that was playing across the same silence (a frame before it and one after); its longest silence within {RotationGaps.Around.TotalSeconds:0} s of it (silences under {SimulatedSession.SilenceFloor.TotalMilliseconds:0} ms count as 0). A stall of the whole machine is heard by all of them; a rotation's own silence by none. Stall-separated gap: the rotation's silence less the median of theirs (the raw one when no other answer was playing). Both are reported; the target ({RotationGaps.GapTarget.TotalMilliseconds:0} ms) is judged on the raw one unless the baseline shows the stall. sampler_stalled: the tester's own one-second sampler missed a tick then (the tester process did not run).",
                "Audio p99 per minute (p99_comparison): from a histogram exact to the microsecond below 65.536 ms (every audio sample the tester took that minute, both directions), so two minutes' p99 differ only by what the samples differ by. Windows: non-overlapping 5-minute blocks ending at the last full minute; clear: not minute 1, not touching a chaos outage (from the event to 60 s after its audio flowed again). Noise: the standard deviation of the p99 of the clear minutes, and of the clear blocks (the difference of two independent ones varies √2 times as much).",
            ], rot, p99);
        return (figures, merged);
    }

    private static async Task<List<(SimulatedSession Session, TimelineEvent[] Rotations)>> RotationsAsync(
        IClusterClient client, string tenant, IReadOnlyList<SimulatedSession> sessions, CancellationToken ct)
    {
        var result = new List<(SimulatedSession, TimelineEvent[])>();
        using var gate = new SemaphoreSlim(8);
        var reads = sessions.Select(async s =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var timeline = await client.GetGrain<IInterviewSessionGrain>(s.SessionId).GetTimeline(tenant);
                return (s, timeline.Where(e => e.Kind == TimelineKinds.ProviderRotated).ToArray());
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                return (s, Array.Empty<TimelineEvent>()); // a session that never started has no timeline
            }
            finally { gate.Release(); }
        }).ToArray();
        foreach (var r in await Task.WhenAll(reads)) result.Add(r);
        return result;
    }

    /// <summary>Each cost sample onto the first one-second row at or after it, with the bytes per turn since the previous sample.</summary>
    private static List<WindowSample> Merge(IReadOnlyList<WindowSample> timeline, IReadOnlyList<CostSample> costs)
    {
        var rows = timeline.ToList();
        CostSample? previous = null;
        foreach (var c in costs)
        {
            double? perTurn = null;
            if (previous is { RedisInputBytes: { } b0, TurnsCommitted: { } t0 } && c is { RedisInputBytes: { } b1, TurnsCommitted: { } t1 } && t1 > t0)
                perTurn = Math.Round((b1 - b0) / (double)(t1 - t0), 1);
            previous = c;
            var i = rows.FindIndex(w => w.T >= c.T);
            if (i < 0) continue; // after the last row (the sessions' completion): in the cost samples only
            rows[i] = rows[i] with
            {
                TurnsCommitted = c.TurnsCommitted, RedisBytesPerTurn = perTurn, LargestStateKeyBytes = c.Keys?.LargestStateBytes,
                LargestLogKeyBytes = c.Keys?.LargestLogBytes, SiloManagedHeapMb = c.SiloHeapMb,
            };
        }
        return rows;
    }

    /// <summary>Δ bytes ÷ Δ committed turns between the first and the last cost sample inside [from, to] seconds.</summary>
    private static double? BytesPerTurn(IReadOnlyList<CostSample> costs, double from, double to)
    {
        var inside = costs.Where(c => c.T >= from && c.T <= to && c.RedisInputBytes is not null && c.TurnsCommitted is not null).ToArray();
        if (inside.Length < 2) return null;
        var turns = inside[^1].TurnsCommitted!.Value - inside[0].TurnsCommitted!.Value;
        return turns <= 0 ? null : (inside[^1].RedisInputBytes!.Value - inside[0].RedisInputBytes!.Value) / (double)turns;
    }

    private static double? Mean(IEnumerable<WindowSample> rows, int minute, Func<WindowSample, double?> value)
    {
        var values = rows.Where(w => w.T > (minute - 1) * 60 && w.T <= minute * 60).Select(value).OfType<double>().ToArray();
        return values.Length == 0 ? null : Math.Round(values.Average(), 1);
    }

    private static double? Round(double? value) => value is { } v && !double.IsNaN(v) ? Math.Round(v, 1) : null;
}
