using System.Collections.Concurrent;
using Npgsql;
using Orleans.Configuration;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>
/// The durability proof: a two-silo cluster on real Redis (grain state, reminders) with results in real PostgreSQL behind PgBouncer.
/// Evaluations are held at a gate until every one of the 100 has started somewhere; then the second silo is killed while it holds
/// its share, so those events were delivered but never processed. The session outboxes must re-deliver them to the survivor.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostSessionCrashTests(PostgresFixture db, RedisServer redis) : IClassFixture<RedisServer>
{
    private const int Sessions = 100;

    [Fact]
    public async Task Every_evaluation_lands_exactly_once_in_postgres_after_the_silo_processing_them_is_killed()
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(Route.PgBouncer);
        await connections.DisposeAsync();
        var gate = new EvaluationGate();
        await using var cluster = await StartAsync(
            Settings(
                ("ConnectionStrings:Redis", redis.ConnectionString),
                ("ConnectionStrings:Postgres", cs),
                ("PostSession:Evaluation:Evaluator", GatedEvaluator.EvaluatorName),
                ("PostSession:RedeliveryPeriod", "00:00:02")),
            silos: 2,
            services: s =>
            {
                // Random default placement spreads the consumer grains over both silos, so the one killed surely holds some
                // (resource-optimised placement may keep them all on the primary silo, which the test cannot kill).
                s.AddSingleton<PlacementStrategy>(new RandomPlacement());
                s.AddKeyedSingleton<IInterviewEvaluator>(GatedEvaluator.EvaluatorName,
                    (sp, _) => new GatedEvaluator(gate, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString()));
                s.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                });
            });
        var victim = cluster.Cluster.Silos[1];
        var survivor = cluster.Cluster.Silos[0];

        var ids = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Sessions), new ParallelOptions { MaxDegreeOfParallelism = 10 },
            async (_, _) => ids.Add(await CompleteInterviewAsync(cluster.Grains)));

        // Every event has reached an evaluation grain and is held there: nothing is stored yet.
        await EventuallyAsync(() => Task.FromResult(gate.DistinctSessions), n => n == Sessions, TimeSpan.FromSeconds(30), "all evaluations started");
        Assert.Equal(0, await ScalarAsync(cs, "select count(*) from evaluations"));
        var heldByVictim = gate.SessionsOn(victim.SiloAddress.ToString());
        Assert.True(heldByVictim.Count > 0, "the silo to be killed holds no evaluation: the test would prove nothing");

        await cluster.Cluster.KillSiloAsync(victim);
        gate.Open(survivor.SiloAddress.ToString()); // the victim's held evaluations never continue: that silo is gone

        await EventuallyAsync(() => ScalarAsync(cs, "select count(*) from evaluations"), n => n == Sessions, TimeSpan.FromSeconds(40),
            "all evaluations stored");
        Assert.Equal(Sessions, await ScalarAsync(cs, "select count(distinct session_id) from evaluations"));
        Assert.Equal(Sessions * TestRubric.Criteria.Count, await ScalarAsync(cs, "select count(*) from evaluation_scores"));
        Assert.Equal(Sessions, await ScalarAsync(cs, "select count(*) from audit_log where action = 'evaluation.stored'"));
        var stored = await SessionIdsAsync(cs);
        Assert.True(ids.ToHashSet().SetEquals(stored), "the stored evaluations are not exactly the completed sessions");
        // The victim's share was evaluated again, on the survivor, after re-delivery from the session outboxes.
        Assert.All(heldByVictim, id => Assert.Contains(survivor.SiloAddress.ToString(), gate.SilosFor(id)));

        foreach (var id in ids)
        {
            var snapshot = await EventuallyAsync(() => cluster.Grains.GetGrain<IInterviewSessionGrain>(id).Get(Tenant),
                s => s.PostSessionPending is { Count: 0 }, TimeSpan.FromSeconds(30), $"acknowledgements of {id}");
            Assert.Equal(SessionStatus.Completed, snapshot.Status);
        }
    }

    private static async Task<long> ScalarAsync(string cs, string sql)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<HashSet<string>> SessionIdsAsync(string cs)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select session_id from evaluations", connection);
        var ids = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetString(0));
        return ids;
    }

    /// <summary>Holds evaluations per silo until that silo's gate opens; remembers which silo started which session's evaluation.</summary>
    private sealed class EvaluationGate
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
        private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _started = new();

        public int DistinctSessions => _started.Count;

        public IReadOnlyCollection<string> SessionsOn(string silo) => _started.Where(s => s.Value.ContainsKey(silo)).Select(s => s.Key).ToArray();

        public IReadOnlyCollection<string> SilosFor(string sessionId) => _started.TryGetValue(sessionId, out var silos) ? silos.Keys.ToArray() : [];

        public Task EnterAsync(string silo, string sessionId)
        {
            _started.GetOrAdd(sessionId, _ => new()).TryAdd(silo, 0);
            return Gate(silo).Task;
        }

        public void Open(string silo) => Gate(silo).TrySetResult();

        private TaskCompletionSource Gate(string silo) => _gates.GetOrAdd(silo, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>The built-in evaluator behind the gate of the silo it runs on.</summary>
    private sealed class GatedEvaluator(EvaluationGate gate, string silo) : IInterviewEvaluator
    {
        public const string EvaluatorName = "gated";
        private readonly RubricCoverageEvaluator _inner = new();

        public string Name => EvaluatorName;

        public async Task<IReadOnlyList<CriterionScore>> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken)
        {
            await gate.EnterAsync(silo, request.SessionId);
            return await _inner.EvaluateAsync(request, cancellationToken);
        }
    }
}
