using VoiceActors.LiveKit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// Runs the configured evaluator with a timeout per attempt and exponential backoff between attempts, checks what it returned,
/// and turns the outcome into an <see cref="EvaluationView"/>: succeeded with scores, failed with the last reason, or skipped
/// (no consent, or no interview took place). A failure is stored as a failure, never as a zero score.
/// </summary>
public sealed partial class EvaluationRunner(
    IServiceProvider services,
    IOptions<EvaluationOptions> options,
    TimeProvider clock,
    ILogger<EvaluationRunner> logger)
{
    private readonly EvaluationOptions _options = options.Value;

    public async Task<EvaluationView> RunAsync(SessionCompleted completed, IReadOnlyList<TranscriptTurn> turns, CancellationToken cancellationToken = default)
    {
        var rubric = completed.Rubric ?? EvaluationOptions.DefaultRubric;
        var name = _options.Evaluator;
        if (!completed.Consent.AiEvaluation)
            return Finished(completed, rubric, name, EvaluationStatus.Skipped, [], "the candidate did not consent to AI evaluation", 0);
        if (completed.Outcome != SessionStatus.Completed && !turns.Any(t => t.Speaker == ParticipantRole.Candidate))
            return Finished(completed, rubric, name, EvaluationStatus.Skipped, [], $"the session ended as {completed.Outcome} before the candidate spoke", 0);

        var evaluator = services.GetRequiredKeyedService<IInterviewEvaluator>(name);
        var request = new EvaluationRequest(completed.SessionId, rubric, turns);
        var reason = "";
        for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            if (attempt > 1)
                await Task.Delay(_options.RetryBackoff * Math.Pow(2, attempt - 2), clock, cancellationToken);
            using var deadline = new CancellationTokenSource(_options.AttemptTimeout, clock);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            var retryable = true;
            try
            {
                var scores = await evaluator.EvaluateAsync(request, timeout.Token).WaitAsync(_options.AttemptTimeout, clock, cancellationToken);
                Check(scores, rubric);
                var overall = Math.Round(scores.Sum(s => s.Weight * s.Score), 3);
                return Finished(completed, rubric, name, EvaluationStatus.Succeeded, scores, null, attempt, overall);
            }
            catch (EvaluationFailedException e)
            {
                (reason, retryable) = (e.Message, e.Retryable);
            }
            catch (TimeoutException)
            {
                reason = $"no answer within {_options.AttemptTimeout.TotalSeconds:0.#}s";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                reason = $"no answer within {_options.AttemptTimeout.TotalSeconds:0.#}s";
            }
            catch (Exception e) when (e is HttpRequestException or IOException or System.ClientModel.ClientResultException)
            {
                reason = $"{e.GetType().Name}: {e.Message}";
            }
            LogAttemptFailed(completed.SessionId, name, attempt, _options.MaxAttempts, reason);
            if (!retryable)
                return Finished(completed, rubric, name, EvaluationStatus.Failed, [], reason, attempt);
        }
        return Finished(completed, rubric, name, EvaluationStatus.Failed, [], $"{reason} (gave up after {_options.MaxAttempts} attempts)", _options.MaxAttempts);
    }

    /// <summary>Whatever an evaluator returns must cover the rubric exactly and stay on its scale.</summary>
    private static void Check(IReadOnlyList<CriterionScore> scores, Rubric rubric)
    {
        if (scores.Count != rubric.Criteria.Count)
            throw new EvaluationFailedException($"the evaluator scored {scores.Count} criteria, the rubric has {rubric.Criteria.Count}");
        foreach (var s in scores)
        {
            if (!rubric.Criteria.Any(c => string.Equals(c.Name, s.Criterion, StringComparison.OrdinalIgnoreCase)))
                throw new EvaluationFailedException($"the evaluator scored an unknown criterion '{s.Criterion}'");
            if (double.IsNaN(s.Score) || s.Score < 0 || s.Score > rubric.ScaleMax)
                throw new EvaluationFailedException($"the score for '{s.Criterion}' is outside 0..{rubric.ScaleMax}");
        }
    }

    private EvaluationView Finished(SessionCompleted c, Rubric rubric, string evaluator, EvaluationStatus status,
        IReadOnlyList<CriterionScore> scores, string? reason, int attempts, double? overall = null) =>
        new(c.SessionId, status, evaluator, overall, rubric.ScaleMax, scores, reason, attempts, clock.GetUtcNow());

    [LoggerMessage(Level = LogLevel.Warning, Message = "Evaluation of {SessionId} by {Evaluator} failed (attempt {Attempt} of {MaxAttempts}): {Reason}")]
    private partial void LogAttemptFailed(string sessionId, string evaluator, int attempt, int maxAttempts, string reason);
}
