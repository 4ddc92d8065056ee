using VoiceActors.LiveKit;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using VoiceActors.PostSession;
using VoiceActors.PostSession.Persistence;

namespace VoiceActors.Tests.PostSession;

/// <summary>The PostgreSQL repository against a real server, each test both directly and through PgBouncer in transaction mode.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresRepositoryTests(PostgresFixture db)
{
    private static readonly DateTimeOffset At = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    /// <summary>Every kind of text that breaks SQL built by concatenation, plus quoting, escapes, wildcards, unicode and a NUL.</summary>
    private const string Nasty = "Robert'); DROP TABLE evaluations; -- \"x\" \\ $1 @p %_ ' OR '1'='1 ;; /* */ E'\\x00' ✓ 漢字 \u0000 end";

    public static TheoryData<Route> Routes => new() { Route.Direct, Route.PgBouncer };

    [Theory, MemberData(nameof(Routes))]
    public async Task Migrations_apply_each_version_once_even_when_silos_start_together(Route route)
    {
        var name = await db.Postgres.CreateDatabaseAsync();
        var cs = db.ConnectionString(route, name);
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            await using var connections = new PostgresConnections(cs, null);
            return await new PostgresMigrations(connections, NullLogger<PostgresMigrations>.Instance).ApplyAsync();
        }));
        Assert.Equal(PostgresMigrations.All.Count, runs.Sum());
        Assert.Equal(PostgresMigrations.All.Count, await ScalarAsync<long>(cs, "select count(*) from schema_migrations"));

        await using var again = new PostgresConnections(cs, null);
        Assert.Equal(0, await new PostgresMigrations(again, NullLogger<PostgresMigrations>.Instance).ApplyAsync());
    }

    [Theory, MemberData(nameof(Routes))]
    public async Task Evaluation_is_stored_once_when_the_event_is_delivered_twice(Route route)
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(route);
        await using var _ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var completed = Completed("acme");

        Assert.True(await repository.SaveEvaluationAsync(completed, Evaluation(completed.SessionId, 4.0)));
        Assert.False(await repository.SaveEvaluationAsync(completed, Evaluation(completed.SessionId, 1.0)));

        Assert.Equal(1, await ScalarAsync<long>(cs, "select count(*) from evaluations"));
        Assert.Equal(2, await ScalarAsync<long>(cs, "select count(*) from evaluation_scores"));
        var stored = await repository.GetEvaluationAsync("acme", completed.SessionId);
        Assert.Equal(4.0, stored!.OverallScore); // the first result wins; the re-delivery changed nothing
    }

    [Theory, MemberData(nameof(Routes))]
    public async Task Every_text_field_round_trips_sql_metacharacters(Route route)
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(route);
        await using var _ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var tenant = "t" + Nasty;
        var completed = Completed(tenant) with { CandidateId = Nasty, JobId = Nasty, EndReason = Nasty };
        var expected = Nasty.Replace('\0', '\uFFFD'); // NUL is the one character PostgreSQL text cannot hold

        await repository.RecordInterviewAsync(completed, At.AddDays(30));
        var transcript = new TranscriptView(completed.SessionId,
            [new TranscriptTurn(0, ParticipantRole.Candidate, Nasty, At, At.AddSeconds(3)), new TranscriptTurn(1, ParticipantRole.Agent, "ok", At.AddSeconds(4), At.AddSeconds(5))], At, "recording:" + Nasty);
        Assert.True(await repository.SaveTranscriptAsync(completed, transcript));
        var evaluation = new EvaluationView(completed.SessionId, EvaluationStatus.Succeeded, Nasty, 3.0, 5,
            [new CriterionScore(Nasty, 1.0, 3.0, [Nasty, "plain"], Nasty)], null, 1, At);
        Assert.True(await repository.SaveEvaluationAsync(completed, evaluation));
        await repository.AppendAuditAsync(new AuditEntry(completed.SessionId, tenant, AuditActions.Accessed, Nasty, Nasty, At));

        var t = await repository.GetTranscriptAsync(tenant, completed.SessionId);
        Assert.Equal([expected, "ok"], t!.Turns.Select(x => x.Text));
        Assert.Equal(At, t.Turns[0].StartedAt);
        Assert.Equal("recording:" + expected, t.Source);
        var e = await repository.GetEvaluationAsync(tenant, completed.SessionId);
        Assert.Equal(expected, e!.Evaluator);
        Assert.Equal(expected, e.Criteria[0].Criterion);
        Assert.Equal([expected, "plain"], e.Criteria[0].Evidence);
        Assert.Equal(expected, e.Criteria[0].Rationale);
        var audit = Assert.Single(await repository.GetAuditAsync(tenant, completed.SessionId));
        Assert.Equal((expected, expected), (audit.Actor, audit.Detail));
        Assert.Equal(expected, await ScalarAsync<string>(cs, "select candidate_id from interviews"));
        Assert.Equal(expected, await ScalarAsync<string>(cs, "select end_reason from interviews"));
        Assert.Equal(1, await ScalarAsync<long>(cs, "select count(*) from evaluations")); // and the table is still there
    }

    [Theory, MemberData(nameof(Routes))]
    public async Task Reads_are_tenant_scoped(Route route)
    {
        var (_, connections) = await db.MigratedDatabaseAsync(route);
        await using var __ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var completed = Completed("acme");
        await repository.SaveEvaluationAsync(completed, Evaluation(completed.SessionId, 4));
        await repository.SaveTranscriptAsync(completed, new TranscriptView(completed.SessionId, [], At));

        Assert.Null(await repository.GetEvaluationAsync("globex", completed.SessionId));
        Assert.Null(await repository.GetTranscriptAsync("globex", completed.SessionId));
        Assert.NotNull(await repository.GetEvaluationAsync("acme", completed.SessionId));
        var counts = await repository.DeleteSessionDataAsync("globex", completed.SessionId, Audit(completed.SessionId, "globex"));
        Assert.Equal(new DeletionCounts(0, 0, 0), counts);
        Assert.NotNull(await repository.GetEvaluationAsync("acme", completed.SessionId));
    }

    [Theory, MemberData(nameof(Routes))]
    public async Task Deletion_removes_interview_transcript_and_evaluation_and_leaves_an_audit_record(Route route)
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(route);
        await using var _ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var completed = Completed("acme");
        var other = Completed("acme");
        foreach (var c in new[] { completed, other })
        {
            await repository.RecordInterviewAsync(c, At.AddDays(30));
            await repository.SaveTranscriptAsync(c, new TranscriptView(c.SessionId, [new TranscriptTurn(0, ParticipantRole.Candidate, "hi", At, At)], At));
            await repository.SaveEvaluationAsync(c, Evaluation(c.SessionId, 2));
        }

        var counts = await repository.DeleteSessionDataAsync("acme", completed.SessionId, Audit(completed.SessionId, "acme"));

        Assert.Equal(new DeletionCounts(1, 1, 1), counts);
        foreach (var table in new[] { "interviews", "transcripts", "transcript_turns", "evaluations", "evaluation_scores" })
            Assert.Equal(0, await ScalarAsync<long>(cs, $"select count(*) from {table} where session_id = '{completed.SessionId}'"));
        Assert.NotNull(await repository.GetEvaluationAsync("acme", other.SessionId)); // only that session
        var audit = Assert.Single(await repository.GetAuditAsync("acme", completed.SessionId));
        Assert.Equal(AuditActions.RetentionDeleted, audit.Action);
        Assert.Contains("interviews=1 transcript_turns=1 evaluations=1", audit.Detail);
    }

    [Fact]
    public async Task Many_concurrent_writers_share_a_three_connection_transaction_pool()
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(Route.PgBouncer);
        await using var _ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var sessions = Enumerable.Range(0, 60).Select(_ => Completed("acme")).ToArray();

        // 60 sessions x 3 writes, at most 3 server connections behind PgBouncer: prepared statements or session state would break here.
        await Task.WhenAll(sessions.Select(async c =>
        {
            await repository.RecordInterviewAsync(c, At.AddDays(1));
            await repository.SaveTranscriptAsync(c, new TranscriptView(c.SessionId, [new TranscriptTurn(0, ParticipantRole.Candidate, "hello", At, At)], At));
            await repository.SaveEvaluationAsync(c, Evaluation(c.SessionId, 3));
        }));

        Assert.Equal(60, await ScalarAsync<long>(cs, "select count(*) from evaluations"));
        Assert.Equal(60, await ScalarAsync<long>(cs, "select count(*) from transcript_turns"));
        Assert.Equal(3, db.PgBouncer.ServerPoolSize);
    }

    [Fact]
    public void Connection_strings_are_made_safe_for_transaction_pooling()
    {
        var safe = new NpgsqlConnectionStringBuilder(PostgresConnections.PgBouncerSafe("Host=db;Database=va;Max Auto Prepare=20;No Reset On Close=false"));
        Assert.Equal(0, safe.MaxAutoPrepare);
        Assert.True(safe.NoResetOnClose);
        Assert.False(safe.Multiplexing);
        Assert.False(safe.Enlist);
    }

    [Fact]
    public async Task Auto_prepared_statements_break_under_transaction_pooling_which_is_why_they_are_off()
    {
        var name = await db.Postgres.CreateDatabaseAsync();
        var unsafeSettings = db.PgBouncer.ConnectionString(name) + ";Max Auto Prepare=5;Auto Prepare Min Usages=1";
        await using var source = NpgsqlDataSource.Create(unsafeSettings);

        // Npgsql's default-off setting turned on: statements prepared on one server connection are missing on the next.
        var failure = await Record.ExceptionAsync(() => Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            for (var n = 0; n < 20; n++)
            {
                await using var command = source.CreateCommand("select @x::int + 1");
                command.Parameters.AddWithValue("x", i);
                await command.ExecuteScalarAsync();
            }
        })));
        Assert.IsType<PostgresException>(failure);
    }

    [Fact]
    public async Task Reads_go_to_the_replica_when_one_is_configured()
    {
        var (primary, p) = await db.MigratedDatabaseAsync(Route.Direct);
        var (replica, r) = await db.MigratedDatabaseAsync(Route.Direct); // a stand-in replica: same schema, its own rows
        await p.DisposeAsync();
        await r.DisposeAsync();
        await using var connections = new PostgresConnections(primary, replica);
        var repository = new PostgresPostSessionRepository(connections);
        var completed = Completed("acme");

        await repository.SaveEvaluationAsync(completed, Evaluation(completed.SessionId, 4));

        Assert.Equal(1, await ScalarAsync<long>(primary, "select count(*) from evaluations")); // the write went to the primary
        Assert.Null(await repository.GetEvaluationAsync("acme", completed.SessionId));      // the read went to the replica
        await using (var replicaConnections = new PostgresConnections(replica, null))
            await new PostgresPostSessionRepository(replicaConnections).SaveEvaluationAsync(completed, Evaluation(completed.SessionId, 1));
        Assert.Equal(1.0, (await repository.GetEvaluationAsync("acme", completed.SessionId))!.OverallScore);
    }

    [Fact]
    public async Task The_schema_refuses_a_failed_evaluation_with_a_score_or_without_a_reason()
    {
        var (_, connections) = await db.MigratedDatabaseAsync(Route.Direct);
        await using var __ = connections;
        var repository = new PostgresPostSessionRepository(connections);
        var completed = Completed("acme");
        var failedWithZero = new EvaluationView(completed.SessionId, EvaluationStatus.Failed, "llm", 0.0, 5, [], "timeout", 3, At);
        var failedWithoutReason = failedWithZero with { OverallScore = null, FailureReason = null };

        await Assert.ThrowsAsync<PostgresException>(() => repository.SaveEvaluationAsync(completed, failedWithZero));
        await Assert.ThrowsAsync<PostgresException>(() => repository.SaveEvaluationAsync(completed, failedWithoutReason));
    }

    internal static SessionCompleted Completed(string tenant)
    {
        var id = SessionIds.New();
        return new SessionCompleted(PostSessionConsumers.EventId(id), id, tenant, SessionStatus.Completed, "done", At, At.AddMinutes(1),
            At.AddMinutes(30), new ConsentFlags(true, true, true), new TranscriptReference(id, 2), "cand", "job", null);
    }

    private static EvaluationView Evaluation(string sessionId, double overall) => new(sessionId, EvaluationStatus.Succeeded,
        RubricCoverageEvaluator.EvaluatorName, overall, 5,
        [new CriterionScore("a", 0.5, overall, ["quote a"]), new CriterionScore("b", 0.5, overall, ["quote b"], "why")], null, 1, At);

    private static AuditEntry Audit(string sessionId, string tenant) => new(sessionId, tenant, AuditActions.RetentionDeleted, "retention", null, At);

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
