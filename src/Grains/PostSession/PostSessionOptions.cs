using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace VoiceActors.PostSession;

/// <summary>Delivery of <c>session.completed</c> (configuration section <c>PostSession</c>).</summary>
public sealed class PostSessionOptions
{
    public const string Section = "PostSession";

    /// <summary>How often the session's outbox reminder re-publishes an event some consumer has not acknowledged yet.</summary>
    public TimeSpan RedeliveryPeriod { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class PostSessionOptionsValidator : IValidateOptions<PostSessionOptions>
{
    public ValidateOptionsResult Validate(string? name, PostSessionOptions o) =>
        o.RedeliveryPeriod < TimeSpan.FromSeconds(1)
            ? ValidateOptionsResult.Fail("PostSession:RedeliveryPeriod must be at least 1s: reminders cannot tick faster.")
            : ValidateOptionsResult.Success;
}

/// <summary>Which evaluator scores interviews and how hard it tries (section <c>PostSession:Evaluation</c>).</summary>
public sealed class EvaluationOptions
{
    public const string Section = "PostSession:Evaluation";

    /// <summary><c>rubric-coverage</c> (built in, deterministic) or <c>llm</c> (chat completions, see <see cref="LlmEvaluatorOptions"/>), or any keyed evaluator registered in DI.</summary>
    public string Evaluator { get; set; } = RubricCoverageEvaluator.EvaluatorName;

    /// <summary>Attempts before the evaluation is stored as failed with the last reason.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>One attempt that takes longer than this is abandoned and counts as failed.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Pause before the second attempt; doubles for each further one.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Rubric used when an interview was created without one.</summary>
    public static Sessions.Rubric DefaultRubric { get; } = new(
    [
        new("communication", "Explains clearly and answers the question asked", 0.4, ["explain", "because", "example", "clear"]),
        new("experience", "Relevant hands-on experience", 0.6, ["built", "led", "designed", "shipped", "project"]),
    ]);
}

public sealed class EvaluationOptionsValidator(IServiceProviderIsKeyedService? registered = null) : OptionsValidator<EvaluationOptions>
{
    protected override void Check(string? name, EvaluationOptions o, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(o.Evaluator)) errors.Add("PostSession:Evaluation:Evaluator must name an evaluator ('rubric-coverage' or 'llm').");
        else if (registered is not null && !registered.IsKeyedService(typeof(IInterviewEvaluator), o.Evaluator))
            errors.Add($"PostSession:Evaluation:Evaluator '{o.Evaluator}' is not a registered evaluator ('rubric-coverage', 'llm', or your own keyed IInterviewEvaluator).");
        if (o.MaxAttempts is < 1 or > 10) errors.Add("PostSession:Evaluation:MaxAttempts must be between 1 and 10.");
        if (o.AttemptTimeout <= TimeSpan.Zero) errors.Add("PostSession:Evaluation:AttemptTimeout must be positive.");
        if (o.RetryBackoff < TimeSpan.Zero) errors.Add("PostSession:Evaluation:RetryBackoff cannot be negative.");
    }
}

/// <summary>How long results are kept after the session ended (section <c>PostSession:Retention</c>).</summary>
public sealed class RetentionOptions
{
    public const string Section = "PostSession:Retention";

    public TimeSpan Default { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Per-tenant overrides, e.g. <c>PostSession:Retention:Tenants:acme = 7.00:00:00</c>.</summary>
    public Dictionary<string, TimeSpan> Tenants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Period of the durable retention reminder; deletion happens at most this long after the deadline.</summary>
    public TimeSpan CheckPeriod { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan For(string tenantId) => Tenants.TryGetValue(tenantId, out var t) ? t : Default;
}

public sealed class RetentionOptionsValidator : OptionsValidator<RetentionOptions>
{
    protected override void Check(string? name, RetentionOptions o, List<string> errors)
    {
        if (o.Default <= TimeSpan.Zero) errors.Add("PostSession:Retention:Default must be positive.");
        foreach (var (tenant, t) in o.Tenants)
            if (t <= TimeSpan.Zero) errors.Add($"PostSession:Retention:Tenants:{tenant} must be positive.");
        if (o.CheckPeriod < TimeSpan.FromSeconds(1)) errors.Add("PostSession:Retention:CheckPeriod must be at least 1s: reminders cannot tick faster.");
    }
}
