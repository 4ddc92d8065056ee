using System.Collections.Concurrent;
using VoiceActors.LiveKit;
using VoiceActors.Tests.Sessions;

namespace VoiceActors.Tests.Cluster;

/// <summary>
/// What a failover looks like from outside: live sessions spread by placement over real silo processes, then every session asked
/// for its data in parallel, again and again, until it answers from a survivor. Also counts duplicate activations directly.
/// </summary>
internal static class FailoverProbe
{
    public const string Tenant = "tenant-failover";
    public const int TurnsPerSession = 2;

    private static readonly TimeSpan AttemptInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Creates live sessions through placement (no silo chosen by the test), each Active with two committed turns.</summary>
    public static async Task<string[]> CreateLiveSessionsAsync(IClusterClient client, int count)
    {
        var ids = new string[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            // A machine shared with other builds can time a step out (Redis included): start that session over under a new id.
            for (var attempt = 1; ; attempt++)
            {
                var id = SessionIds.New();
                try
                {
                    var grain = client.GetGrain<IInterviewSessionGrain>(id);
                    await grain.Create(SessionTestData.Command(Tenant, $"cand-{i}"));
                    await grain.JoinAsync($"candidate-{i}", ParticipantRole.Candidate);
                    await grain.JoinAsync($"agent-{i}", ParticipantRole.Agent);
                    var now = DateTimeOffset.UtcNow;
                    await grain.RecordTurn(new Turn(ParticipantRole.Agent, $"Question for {i}", now, now.AddSeconds(1)));
                    await grain.RecordTurn(new Turn(ParticipantRole.Candidate, $"Answer from {i}", now.AddSeconds(2), now.AddSeconds(3)));
                    ids[i] = id;
                    return;
                }
                catch (Exception e) when (attempt < 3 && e is TimeoutException or OrleansException)
                {
                    await client.GetGrain<IInterviewSessionGrain>(id).Complete(Tenant, "setup step timed out").WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { });
                }
            }
        });
        return ids;
    }

    /// <summary>Where each session answers from right now (one call each).</summary>
    public static async Task<Dictionary<string, string>> LocateAsync(IClusterClient client, IEnumerable<string> ids)
    {
        var result = new ConcurrentDictionary<string, string>();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) =>
            result[id] = (await client.GetGrain<IInterviewSessionGrain>(id).Get(Tenant)).Silo ?? "");
        return new Dictionary<string, string>(result);
    }

    /// <summary>
    /// Probes every session in parallel until each answers Active with its committed turns from a silo that is not dead; returns
    /// the milliseconds from <paramref name="since"/> to each session's first good answer (index-aligned with <paramref name="ids"/>).
    /// </summary>
    public static async Task<double[]> ProbeUntilAnsweredAsync(IClusterClient client, string[] ids, Func<string?, bool> isDead, Stopwatch since,
        TimeSpan timeout)
    {
        var answeredAt = new double[ids.Length];
        await Task.WhenAll(ids.Select(async (id, i) =>
        {
            var grain = client.GetGrain<IInterviewSessionGrain>(id);
            var answered = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
            // A new attempt every interval, earlier ones left running: on a loaded machine a good answer may take longer than the
            // interval, and one stuck on a dead silo must not hide the next one's.
            while (!answered.Task.IsCompleted && since.Elapsed < timeout)
            {
                _ = AttemptAsync(grain, isDead, since, answered);
                await Task.WhenAny(answered.Task, Task.Delay(AttemptInterval));
            }
            answeredAt[i] = answered.Task.IsCompleted ? answered.Task.Result : double.PositiveInfinity;
        }));
        return answeredAt;
    }

    private static async Task AttemptAsync(IInterviewSessionGrain grain, Func<string?, bool> isDead, Stopwatch since, TaskCompletionSource<double> answered)
    {
        try
        {
            var s = await grain.Get(Tenant);
            if (s.Status == SessionStatus.Active && s.TurnCount == TurnsPerSession && !isDead(s.Silo)) answered.TrySetResult(since.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or OperationCanceledException)
        {
            // Not yet: the call went to a dead silo, or waited on the directory.
        }
    }

    /// <summary>Sessions that more than one silo holds an activation of, from each silo's own catalog (not the directory).</summary>
    public static async Task<Dictionary<string, string[]>> DuplicatesAsync(IClusterClient client, IEnumerable<string> ids)
    {
        var wanted = ids.ToHashSet(StringComparer.Ordinal);
        var stats = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics([typeof(InterviewSessionGrain).FullName!]);
        return stats
            .Select(s => (Id: s.GrainId.Key.ToString()!, Silo: s.SiloAddress.ToParsableString()))
            .Where(s => wanted.Contains(s.Id))
            .GroupBy(s => s.Id)
            .Where(g => g.Select(s => s.Silo).Distinct().Count() > 1)
            .ToDictionary(g => g.Key, g => g.Select(s => s.Silo).Distinct().ToArray());
    }

    /// <summary>Every session still has exactly its committed turns, in order.</summary>
    public static async Task AssertTurnsKeptAsync(IClusterClient client, string[] ids)
    {
        for (var i = 0; i < ids.Length; i++)
        {
            var turns = await client.GetGrain<IInterviewSessionGrain>(ids[i]).GetTurns(Tenant);
            Assert.Equal(TurnsPerSession, turns.Count);
            Assert.Equal($"Answer from {i}", turns[1].Text);
        }
    }

    public static string Summary(double[] ms)
    {
        var sorted = ms.Order().ToArray();
        double P(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        return $"n={sorted.Length} p50={P(0.5):0} ms p99={P(0.99):0} ms max={sorted[^1]:0} ms";
    }
}
