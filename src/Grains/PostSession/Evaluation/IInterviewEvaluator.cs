using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// Scores one transcript against a rubric. Registered in DI as a keyed service under its <see cref="Name"/>;
/// <see cref="EvaluationOptions.Evaluator"/> picks the one in use. Throw <see cref="EvaluationFailedException"/> for output that
/// cannot be trusted: the caller retries and then stores a failure with the reason, never a made-up score.
/// </summary>
public interface IInterviewEvaluator
{
    string Name { get; }

    Task<IReadOnlyList<CriterionScore>> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken);
}

public sealed record EvaluationRequest(string SessionId, Rubric Rubric, IReadOnlyList<TranscriptTurn> Turns);

/// <summary>The evaluator could not produce a trustworthy score; <see cref="Retryable"/> is false when trying again cannot help.</summary>
public sealed class EvaluationFailedException(string reason, bool retryable = true, Exception? inner = null) : Exception(reason, inner)
{
    public bool Retryable { get; } = retryable;
}
