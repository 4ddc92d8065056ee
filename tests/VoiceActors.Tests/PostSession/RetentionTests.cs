using Npgsql;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>Retention on the fake clock, with results in a real PostgreSQL behind PgBouncer; the durable reminder does the deleting.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RetentionTests(PostgresFixture db)
{
    [Fact]
    public async Task At_the_retention_deadline_transcript_evaluation_and_session_state_are_deleted_everywhere_with_an_audit_record()
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(Route.PgBouncer);
        await connections.DisposeAsync();
        await using var silo = await StartAsync(Settings(("ConnectionStrings:Postgres", cs), ("PostSession:Retention:Tenants:acme", "7.00:00:00")));
        var expiring = await CompleteInterviewAsync(silo.Grains, candidateId: "cand-expiring");
        silo.Clock.Advance(TimeSpan.FromDays(3));
        var younger = await CompleteInterviewAsync(silo.Grains, candidateId: "cand-younger");
        foreach (var id in new[] { expiring, younger })
            await EventuallyAsync(() => silo.Grains.GetGrain<IInterviewSessionGrain>(id).Get(Tenant), s => s.PostSessionPending is { Count: 0 },
                TimeSpan.FromSeconds(15), "post-session processing");
        Assert.Equal(1, await CountAsync(cs, "transcripts", expiring));
        Assert.Equal(4, await CountAsync(cs, "transcript_turns", expiring));
        Assert.Equal(1, await CountAsync(cs, "evaluations", expiring));

        var compliance = silo.Grains.GetGrain<IComplianceGrain>(expiring);
        var status = await compliance.GetStatus(Tenant);
        Assert.Equal(TimeSpan.FromDays(7), status!.DeleteAt - (await silo.Grains.GetGrain<IInterviewSessionGrain>(expiring).Get(Tenant)).EndedAt);
        Assert.False(await compliance.EnforceRetention()); // day 3 of 7: nothing happens

        silo.Clock.Advance(TimeSpan.FromDays(4) + TimeSpan.FromSeconds(1)); // day 7 for the first session, day 4 for the second
        status = await EventuallyAsync(() => compliance.GetStatus(Tenant), s => s!.DeletedAt is not null, TimeSpan.FromSeconds(15), "retention reminder");

        foreach (var table in new[] { "interviews", "transcripts", "transcript_turns", "evaluations", "evaluation_scores" })
            Assert.Equal(0, await CountAsync(cs, table, expiring));
        var session = silo.Grains.GetGrain<IInterviewSessionGrain>(expiring);
        Assert.Empty(await session.GetTurns(Tenant));
        var tombstone = await session.Get(Tenant);
        Assert.Equal("", tombstone.CandidateId);
        Assert.NotNull(tombstone.ErasedAt);
        var timeline = await session.GetTimeline(Tenant);
        Assert.Equal(TimelineKinds.Deleted, timeline[^1].Kind);
        Assert.DoesNotContain(timeline, e => e.Detail?.Contains("candidate", StringComparison.OrdinalIgnoreCase) == true && e.Kind != TimelineKinds.Deleted);
        Assert.Null(await silo.Grains.GetGrain<IEvaluationGrain>(expiring).Get(Tenant, "test"));
        Assert.Null(await silo.Grains.GetGrain<ITranscriptGrain>(expiring).Get(Tenant, "test"));

        var audit = await AuditAsync(cs, expiring);
        Assert.Contains(("consent.recorded", "recording=True transcription=True aiEvaluation=True"), audit);
        var deleted = Assert.Single(audit, a => a.Action == "retention.deleted");
        Assert.Contains("session state erased", deleted.Detail);
        Assert.Contains("interviews=1 transcript_turns=4 evaluations=1", deleted.Detail);

        // The younger interview has three more days to go.
        Assert.Equal(1, await CountAsync(cs, "evaluations", younger));
        Assert.Equal(4, (await silo.Grains.GetGrain<IInterviewSessionGrain>(younger).GetTurns(Tenant)).Count);
    }

    private static async Task<long> CountAsync(string cs, string table, string sessionId)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {table} where session_id = @id", connection);
        command.Parameters.AddWithValue("id", sessionId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<(string Action, string? Detail)>> AuditAsync(string cs, string sessionId)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select action, detail from audit_log where session_id = @id order by id", connection);
        command.Parameters.AddWithValue("id", sessionId);
        var rows = new List<(string, string?)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        return rows;
    }
}
