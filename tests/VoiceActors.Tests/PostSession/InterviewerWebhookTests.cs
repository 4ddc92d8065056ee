using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession;
using static VoiceActors.Tests.PostSession.PostSessionTestKit;

namespace VoiceActors.Tests.PostSession;

public sealed class InterviewerWebhookTests
{
    private const string Secret = "whsec-0123456789abcdef";

    [Fact]
    public async Task Webhook_is_signed_and_retried_with_backoff_until_the_receiver_accepts()
    {
        await using var receiver = await LocalHttpServer.StartAsync((n, http) =>
        {
            http.Response.StatusCode = n < 3 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });
        using var webhook = Webhook(receiver, attempts: 5);

        var result = await webhook.NotifyAsync(Tenant, Evaluation());

        Assert.True(result.Delivered);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(3, receiver.RequestCount);
        foreach (var (_, headers, body) in receiver.Requests)
        {
            var parts = headers[InterviewerWebhook.SignatureHeader].ToString().Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            Assert.Equal(InterviewerWebhook.Sign(Secret, long.Parse(parts["t"]), body), parts["v1"]);
            Assert.NotEqual(InterviewerWebhook.Sign("another-secret-xxxxxx", long.Parse(parts["t"]), body), parts["v1"]);
            Assert.Equal("s1:evaluation", headers[InterviewerWebhook.EventIdHeader].ToString());
            using var json = JsonDocument.Parse(body);
            Assert.Equal("evaluation.completed", json.RootElement.GetProperty("type").GetString());
            Assert.Equal(4.5, json.RootElement.GetProperty("overallScore").GetDouble());
        }
    }

    [Fact]
    public Task A_receiver_that_rejects_the_request_is_not_retried()
        => AssertNotDeliveredAsync(StatusCodes.Status400BadRequest, attempts: 5, expectedRequests: 1);

    [Fact]
    public Task A_receiver_that_stays_down_gets_every_attempt_then_the_failure_is_reported()
        => AssertNotDeliveredAsync(StatusCodes.Status502BadGateway, attempts: 4, expectedRequests: 4);

    /// <summary>A receiver that answers every request with <paramref name="status"/>: the delivery fails after <paramref name="expectedRequests"/> requests.</summary>
    private static async Task AssertNotDeliveredAsync(int status, int attempts, int expectedRequests)
    {
        await using var receiver = await LocalHttpServer.StartAsync((_, http) =>
        {
            http.Response.StatusCode = status;
            return Task.CompletedTask;
        });
        using var webhook = Webhook(receiver, attempts);

        var result = await webhook.NotifyAsync(Tenant, Evaluation());

        Assert.False(result.Delivered);
        Assert.Equal(expectedRequests, receiver.RequestCount);
        Assert.Equal($"HTTP {status}", result.Detail);
    }

    private static InterviewerWebhook Webhook(LocalHttpServer receiver, int attempts) => new(Options.Create(new WebhookOptions
    {
        Url = new Uri(receiver.BaseUri, "hooks/evaluations"),
        Secret = Secret,
        MaxAttempts = attempts,
        InitialBackoff = TimeSpan.FromMilliseconds(20),
    }), TimeProvider.System, NullLogger<InterviewerWebhook>.Instance);

    private static EvaluationView Evaluation() =>
        new("s1", EvaluationStatus.Succeeded, RubricCoverageEvaluator.EvaluatorName, 4.5, 5, [], null, 1, Start);
}
