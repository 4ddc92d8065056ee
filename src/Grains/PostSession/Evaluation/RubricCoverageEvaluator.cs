using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// The built-in, deterministic evaluator (embedded default and tests): a criterion's score is the share of its keywords the
/// candidate said, on the rubric's scale; the evidence is the candidate's own sentences that contain them. A criterion without
/// keywords uses the words of its name.
/// </summary>
public sealed class RubricCoverageEvaluator : IInterviewEvaluator
{
    public const string EvaluatorName = "rubric-coverage";
    private const int MaxEvidence = 3;
    private const int MaxQuoteLength = 240;

    public string Name => EvaluatorName;

    public Task<IReadOnlyList<CriterionScore>> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken)
    {
        var candidate = request.Turns.Where(t => t.Speaker == ParticipantRole.Candidate).ToList();
        if (candidate.Count == 0)
            throw new EvaluationFailedException("the transcript holds no candidate speech to score", retryable: false);

        var scores = new List<CriterionScore>(request.Rubric.Criteria.Count);
        foreach (var criterion in request.Rubric.Criteria)
        {
            var keywords = criterion.Keywords is { Count: > 0 } k
                ? k.Where(w => !string.IsNullOrWhiteSpace(w)).ToList()
                : criterion.Name.Split([' ', '-', '_', '/', ','], StringSplitOptions.RemoveEmptyEntries).Where(w => w.Length >= 4).ToList();
            if (keywords.Count == 0) keywords.Add(criterion.Name);

            var found = keywords.Where(w => candidate.Exists(t => Mentions(t.Text, w))).ToList();
            var evidence = candidate.Where(t => found.Exists(w => Mentions(t.Text, w)))
                .Take(MaxEvidence)
                .Select(t => t.Text.Length <= MaxQuoteLength ? t.Text : t.Text[..MaxQuoteLength] + "…")
                .ToArray();
            var score = Math.Round(request.Rubric.ScaleMax * (double)found.Count / keywords.Count, 2);
            scores.Add(new CriterionScore(criterion.Name, criterion.Weight, score, evidence,
                $"mentioned {found.Count} of {keywords.Count}: {string.Join(", ", found)}"));
        }
        return Task.FromResult<IReadOnlyList<CriterionScore>>(scores);
    }

    private static bool Mentions(string text, string keyword) => text.Contains(keyword.Trim(), StringComparison.OrdinalIgnoreCase);
}
