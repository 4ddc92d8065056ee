using VoiceActors.LiveKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

/// <summary>The LLM evaluator (OpenAI SDK) against a local server that speaks the chat-completions wire format.</summary>
public sealed class LlmEvaluatorTests
{
    private static readonly TranscriptTurn[] Turns =
    [
        new(0, ParticipantRole.Agent, "How would you scale it?", Start, Start.AddSeconds(2)),
        new(1, ParticipantRole.Candidate, "Partition by customer, cache the reads.", Start.AddSeconds(3), Start.AddSeconds(6)),
    ];

    [Fact]
    public async Task Llm_evaluator_sends_a_json_schema_request_and_reads_the_scores()
    {
        await using var server = await LocalHttpServer.StartAsync((_, http) => LocalHttpServer.ChatCompletion(http,
            LocalHttpServer.Scores(("System design", 4, "Partition by customer"), ("Communication", 3, "cache the reads"))));
        var runner = Runner(server, attempts: 3);

        var view = await runner.RunAsync(Completed(), Turns);

        Assert.Equal(EvaluationStatus.Succeeded, view.Status);
        Assert.Equal(3.5, view.OverallScore);
        Assert.Equal(["Partition by customer"], view.Criteria[0].Evidence);
        var (path, headers, body) = Assert.Single(server.Requests);
        Assert.Equal("/v1/chat/completions", path);
        Assert.Equal("Bearer sk-test-key", headers.Authorization.ToString());
        using var request = JsonDocument.Parse(body);
        var format = request.RootElement.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("strict").GetBoolean());
        Assert.Contains("Partition by customer, cache the reads.", body);
    }

    [Fact]
    public async Task Malformed_json_is_retried_then_stored_as_failed_with_the_reason_never_a_zero()
    {
        await using var server = await LocalHttpServer.StartAsync((_, http) => LocalHttpServer.ChatCompletion(http, "{\"criteria\": [ {\"name\": \"System des"));
        var runner = Runner(server, attempts: 3);

        var view = await runner.RunAsync(Completed(), Turns);

        Assert.Equal(EvaluationStatus.Failed, view.Status);
        Assert.Null(view.OverallScore);
        Assert.Empty(view.Criteria);
        Assert.Equal(3, view.Attempts);
        Assert.Equal(3, server.RequestCount);
        Assert.Contains("malformed JSON", view.FailureReason);
        Assert.Contains("gave up after 3 attempts", view.FailureReason);
    }

    [Fact]
    public async Task A_valid_answer_on_the_second_attempt_is_used()
    {
        await using var server = await LocalHttpServer.StartAsync((n, http) => LocalHttpServer.ChatCompletion(http, n == 1
            ? LocalHttpServer.Scores(("System design", 9, "x"), ("Communication", 3, "y")) // 9 is off the 0..5 scale
            : LocalHttpServer.Scores(("System design", 5, "x"), ("Communication", 1, "y"))));
        var view = await Runner(server, attempts: 3).RunAsync(Completed(), Turns);

        Assert.Equal(EvaluationStatus.Succeeded, view.Status);
        Assert.Equal(2, view.Attempts);
        Assert.Equal(3.0, view.OverallScore);
    }

    [Fact]
    public async Task A_model_that_times_out_is_retried_then_marked_failed()
    {
        using var release = new CancellationTokenSource();
        await using var server = await LocalHttpServer.StartAsync(async (_, http) =>
        {
            try { await Task.Delay(TimeSpan.FromSeconds(10), release.Token); } catch (OperationCanceledException) { }
        });
        var runner = Runner(server, attempts: 2, timeout: TimeSpan.FromMilliseconds(300));

        var view = await runner.RunAsync(Completed(), Turns);
        release.Cancel();

        Assert.Equal(EvaluationStatus.Failed, view.Status);
        Assert.Null(view.OverallScore);
        Assert.Equal(2, server.RequestCount);
        Assert.Contains("timed out", view.FailureReason);
    }

    [Fact]
    public async Task A_missing_criterion_is_a_failure_not_a_partial_score()
    {
        await using var server = await LocalHttpServer.StartAsync((_, http) =>
            LocalHttpServer.ChatCompletion(http, LocalHttpServer.Scores(("System design", 5, "x"))));
        var view = await Runner(server, attempts: 1).RunAsync(Completed(), Turns);

        Assert.Equal(EvaluationStatus.Failed, view.Status);
        Assert.Contains("did not score criterion 'Communication'", view.FailureReason);
    }

    private static EvaluationRunner Runner(LocalHttpServer server, int attempts, TimeSpan? timeout = null)
    {
        var llm = Options.Create(new LlmEvaluatorOptions
        {
            Endpoint = new Uri(server.BaseUri, "v1"),
            ApiKey = "sk-test-key",
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
        });
        var services = new ServiceCollection()
            .AddKeyedSingleton<IInterviewEvaluator>(LlmEvaluator.EvaluatorName, new LlmEvaluator(llm))
            .BuildServiceProvider();
        var options = Options.Create(new EvaluationOptions { Evaluator = LlmEvaluator.EvaluatorName, MaxAttempts = attempts, RetryBackoff = TimeSpan.Zero });
        return new EvaluationRunner(services, options, TimeProvider.System, NullLogger<EvaluationRunner>.Instance);
    }

    private static SessionCompleted Completed()
    {
        var id = SessionIds.New();
        return new SessionCompleted(PostSessionConsumers.EventId(id), id, Tenant, SessionStatus.Completed, "done", Start, Start,
            Start.AddMinutes(5), new ConsentFlags(true, true, true), new TranscriptReference(id, 2), "cand", "job", TestRubric);
    }
}
