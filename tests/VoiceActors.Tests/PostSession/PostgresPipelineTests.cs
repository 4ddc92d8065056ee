using VoiceActors.LiveKit;
using Npgsql;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>The whole pipeline, silo to PostgreSQL (through PgBouncer), with hostile text, a broken model and a real webhook receiver.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresPipelineTests(PostgresFixture db)
{
    private const string Nasty = "x'); DELETE FROM evaluations; -- \"$1\" \\ %_ ☃";

    [Fact]
    public async Task Sql_metacharacters_in_every_field_travel_intact_from_interview_to_postgres_and_the_interviewer_is_notified()
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(Route.PgBouncer);
        await connections.DisposeAsync();
        await using var receiver = await LocalHttpServer.StartAsync((_, http) =>
        {
            http.Response.StatusCode = 200;
            return Task.CompletedTask;
        });
        await using var silo = await StartAsync(Settings(("ConnectionStrings:Postgres", cs),
            ("PostSession:Webhook:Url", new Uri(receiver.BaseUri, "hooks").ToString()), ("PostSession:Webhook:Secret", "0123456789abcdef-secret")));
        var rubric = new Rubric([new(Nasty, Nasty, 1.0, [Nasty])]);

        var id = await CompleteInterviewAsync(silo.Grains, rubric: rubric, candidateId: Nasty, jobId: Nasty,
            turns: [(ParticipantRole.Agent, Nasty), (ParticipantRole.Candidate, "I said " + Nasty)]);
        await EventuallyAsync(() => silo.Grains.GetGrain<IInterviewSessionGrain>(id).Get(Tenant), s => s.PostSessionPending is { Count: 0 },
            TimeSpan.FromSeconds(15), "post-session processing");

        var evaluation = await silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test");
        Assert.Equal(EvaluationStatus.Succeeded, evaluation!.Status);
        Assert.Equal(Nasty, evaluation.Criteria[0].Criterion);
        Assert.Equal(5, evaluation.Criteria[0].Score);
        Assert.Equal(["I said " + Nasty], evaluation.Criteria[0].Evidence);
        var transcript = await silo.Grains.GetGrain<ITranscriptGrain>(id).Get(Tenant, "test");
        Assert.Equal([Nasty, "I said " + Nasty], transcript!.Turns.Select(t => t.Text));
        Assert.Equal(Nasty, await ScalarAsync<string>(cs, "select candidate_id from interviews where session_id = @id", id));
        Assert.Equal(Nasty, await ScalarAsync<string>(cs, "select job_id from interviews where session_id = @id", id));
        Assert.Equal(1L, await ScalarAsync<long>(cs, "select count(*) from evaluations where session_id = @id", id));

        var (_, headers, body) = Assert.Single(receiver.Requests);
        Assert.StartsWith("t=", headers[InterviewerWebhook.SignatureHeader].ToString());
        Assert.Equal(id, JsonDocument.Parse(body).RootElement.GetProperty("sessionId").GetString());
        Assert.Equal(1L, await ScalarAsync<long>(cs, "select count(*) from audit_log where session_id = @id and action = 'webhook.delivered'", id));
        Assert.Equal(2L, await ScalarAsync<long>(cs, "select count(*) from audit_log where session_id = @id and action = 'accessed'", id));
    }

    [Fact]
    public async Task A_model_answering_malformed_json_leaves_a_failed_evaluation_with_its_reason_and_no_score()
    {
        var (cs, connections) = await db.MigratedDatabaseAsync(Route.PgBouncer);
        await connections.DisposeAsync();
        await using var model = await LocalHttpServer.StartAsync((_, http) => LocalHttpServer.ChatCompletion(http, "Sure! Here are the scores: {criteria"));
        await using var silo = await StartAsync(Settings(("ConnectionStrings:Postgres", cs),
            ("PostSession:Evaluation:Evaluator", "llm"), ("PostSession:Evaluation:MaxAttempts", "3"),
            ("PostSession:Llm:Endpoint", new Uri(model.BaseUri, "v1").ToString()), ("PostSession:Llm:ApiKey", "sk-local")));

        var id = await CompleteInterviewAsync(silo.Grains);
        var evaluation = await EventuallyAsync(() => silo.Grains.GetGrain<IEvaluationGrain>(id).Get(Tenant, "test"), e => e is not null,
            TimeSpan.FromSeconds(15), "evaluation");

        Assert.Equal(EvaluationStatus.Failed, evaluation!.Status);
        Assert.Equal(3, model.RequestCount);
        Assert.Contains("malformed JSON", evaluation.FailureReason);
        Assert.Equal("failed", await ScalarAsync<string>(cs, "select status from evaluations where session_id = @id", id));
        Assert.True(await ScalarAsync<bool>(cs, "select overall_score is null from evaluations where session_id = @id", id));
        Assert.Equal(0L, await ScalarAsync<long>(cs, "select count(*) from evaluation_scores where session_id = @id", id));
        var timeline = await silo.Grains.GetGrain<IInterviewSessionGrain>(id).GetTimeline(Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Evaluated && e.Detail!.StartsWith("failed after 3 attempt(s)"));
    }

    private static async Task<T> ScalarAsync<T>(string cs, string sql, string id)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", id);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
