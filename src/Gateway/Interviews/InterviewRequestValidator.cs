using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Interviews;

/// <summary>Checks a create request field by field so the caller sees every problem at once; nothing is written on failure.</summary>
public static class InterviewRequestValidator
{
    private const int MaxIdLength = 128;

    public static Dictionary<string, string[]> Validate(CreateInterviewRequest? body)
    {
        var errors = new Dictionary<string, string[]>();
        if (body is null)
        {
            errors["body"] = ["A JSON body is required."];
            return errors;
        }
        CheckId(errors, "candidateId", body.CandidateId);
        CheckId(errors, "jobId", body.JobId);
        if (body.CandidateName is { Length: > 256 }) errors["candidateName"] = ["Must be at most 256 characters."];
        if (body.Provider is { } p && (p.Length is 0 or > 64 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            errors["provider"] = ["Must be a provider name such as 'simulated', 'openai' or 'grok'."];
        if (body.ProviderOptions?.Instructions is { Length: > 16_000 }) errors["providerOptions.instructions"] = ["Must be at most 16000 characters."];
        if (body.RegionPings is { } pings)
        {
            if (pings.Count > 64) errors["regionPings"] = ["At most 64 regions."];
            foreach (var (region, ms) in pings)
            {
                if (string.IsNullOrWhiteSpace(region) || region.Length > 64) errors["regionPings"] = ["Region names must be 1-64 characters."];
                else if (double.IsNaN(ms) || ms < 0 || ms > 60_000) errors[$"regionPings.{region}"] = ["Must be a round-trip time in milliseconds between 0 and 60000."];
            }
        }
        if (body.Rubric is { } rubric)
        {
            try { RubricRules.Validate(ToRubric(rubric)); }
            catch (RequestValidationException e) { errors[e.Field] = [e.Problem]; }
        }
        return errors;
    }

    public static CreateSession ToCommand(CreateInterviewRequest body, string tenantId, string region)
    {
        var options = body.ProviderOptions;
        var provider = new ProviderSettings(body.Provider ?? ProviderSettings.Default.Name,
            options?.Model, options?.Voice, options?.Instructions, options?.Secondary);
        var consent = body.Consent is { } c ? new ConsentFlags(c.Recording, c.Transcription, c.AiEvaluation) : ConsentFlags.None;
        return new CreateSession(tenantId, body.CandidateId!, body.JobId!, provider, consent, region,
            body.Rubric is null ? null : ToRubric(body.Rubric), body.CandidateName);
    }

    private static Rubric ToRubric(RubricDto dto) => new(
        (dto.Criteria ?? []).Select(c => new RubricCriterion(c.Name ?? "", c.Description ?? "", c.Weight, c.Keywords ?? [])).ToArray(),
        dto.ScaleMax);

    private static void CheckId(Dictionary<string, string[]> errors, string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) errors[field] = ["Is required."];
        else if (value.Length > MaxIdLength) errors[field] = [$"Must be at most {MaxIdLength} characters."];
        else if (value.Any(char.IsControl)) errors[field] = ["Must not contain control characters."];
    }
}
