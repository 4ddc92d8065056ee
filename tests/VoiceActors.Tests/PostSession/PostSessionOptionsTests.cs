using Microsoft.Extensions.Options;
using VoiceActors.PostSession;

namespace VoiceActors.Tests.PostSession;

/// <summary>Misconfiguration stops the silo at start-up with a message that says what to fix.</summary>
public sealed class PostSessionOptionsTests
{
    [Fact]
    public void Llm_evaluator_without_an_api_key_is_refused()
    {
        var validator = new LlmEvaluatorOptionsValidator(Options.Create(new EvaluationOptions { Evaluator = LlmEvaluator.EvaluatorName }));
        var result = validator.Validate(null, new LlmEvaluatorOptions { ApiKey = null });
        Assert.True(result.Failed);
        Assert.Contains("PostSession:Llm:ApiKey is required", result.FailureMessage);
        Assert.True(new LlmEvaluatorOptionsValidator(Options.Create(new EvaluationOptions())).Validate(null, new LlmEvaluatorOptions()).Succeeded);
    }

    [Fact]
    public void Webhook_without_a_strong_secret_is_refused()
    {
        var result = new WebhookOptionsValidator().Validate(null, new WebhookOptions { Url = new Uri("https://hooks.example/x"), Secret = "short" });
        Assert.True(result.Failed);
        Assert.Contains("Secret must be at least 16 characters", result.FailureMessage);
    }

    [Fact]
    public void Retention_must_be_positive_and_checked_no_faster_than_reminders_tick()
    {
        var result = new RetentionOptionsValidator().Validate(null, new RetentionOptions
        {
            Default = TimeSpan.Zero,
            CheckPeriod = TimeSpan.FromMilliseconds(100),
            Tenants = { ["acme"] = TimeSpan.FromDays(-1) },
        });
        Assert.True(result.Failed);
        Assert.Contains("PostSession:Retention:Default must be positive", result.FailureMessage);
        Assert.Contains("PostSession:Retention:Tenants:acme must be positive", result.FailureMessage);
        Assert.Contains("CheckPeriod must be at least 1s", result.FailureMessage);
        Assert.Equal(TimeSpan.FromDays(30), new RetentionOptions().For("anyone"));
    }

    [Fact]
    public void Evaluation_attempts_and_redelivery_period_are_bounded()
    {
        Assert.True(new EvaluationOptionsValidator().Validate(null, new EvaluationOptions { MaxAttempts = 0 }).Failed);
        Assert.True(new PostSessionOptionsValidator().Validate(null, new PostSessionOptions { RedeliveryPeriod = TimeSpan.FromMilliseconds(10) }).Failed);
        Assert.True(new EvaluationOptionsValidator().Validate(null, new EvaluationOptions()).Succeeded);
    }

    [Fact]
    public void An_evaluator_name_nobody_registered_is_refused()
    {
        using var provider = new ServiceCollection()
            .AddKeyedSingleton<IInterviewEvaluator, RubricCoverageEvaluator>(RubricCoverageEvaluator.EvaluatorName)
            .BuildServiceProvider();
        var validator = new EvaluationOptionsValidator(provider.GetRequiredService<IServiceProviderIsKeyedService>());

        Assert.True(validator.Validate(null, new EvaluationOptions()).Succeeded);
        var result = validator.Validate(null, new EvaluationOptions { Evaluator = "gpt-magic" });
        Assert.True(result.Failed);
        Assert.Contains("'gpt-magic' is not a registered evaluator", result.FailureMessage);
    }
}
