namespace VoiceActors.Sessions;

/// <summary>A rubric is refused at interview creation, not discovered broken at evaluation time.</summary>
public static class RubricRules
{
    public static void Validate(Rubric rubric)
    {
        if (rubric.Criteria is null || rubric.Criteria.Count == 0)
            throw new RequestValidationException("rubric.criteria", "needs at least one criterion");
        if (rubric.ScaleMax is < 1 or > 100)
            throw new RequestValidationException("rubric.scaleMax", "must be between 1 and 100");
        var sum = 0.0;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var c in rubric.Criteria)
        {
            if (string.IsNullOrWhiteSpace(c.Name)) throw new RequestValidationException("rubric.criteria.name", "is required");
            if (!names.Add(c.Name)) throw new RequestValidationException("rubric.criteria.name", $"'{c.Name}' appears twice");
            if (c.Weight is <= 0 or > 1 || double.IsNaN(c.Weight))
                throw new RequestValidationException("rubric.criteria.weight", $"'{c.Name}' needs a weight in (0, 1]");
            sum += c.Weight;
        }
        if (Math.Abs(sum - 1.0) > 0.001)
            throw new RequestValidationException("rubric.criteria.weight", $"weights must sum to 1 (they sum to {sum:0.###})");
    }
}
