using VoiceActors.Providers;

namespace VoiceActors.Sessions;

/// <summary>What a create must carry before anything is stored: the ids, a region, a provider this cluster has, a valid rubric.</summary>
internal static class CreateSessionRules
{
    public static void Validate(CreateSession c, VoiceProviderRegistry providers)
    {
        Require(c.TenantId, "tenantId");
        Require(c.CandidateId, "candidateId");
        Require(c.JobId, "jobId");
        Require(c.Region, "region");
        Require(c.Provider?.Name, "provider");
        if (!providers.Contains(c.Provider!.Name))
            throw new RequestValidationException("provider", $"unknown voice provider '{c.Provider.Name}'; this cluster has {string.Join(", ", providers.Names)}");
        if (c.Provider.Secondary is { Length: > 0 } secondary && !providers.Contains(secondary))
            throw new RequestValidationException("providerOptions.secondary", $"unknown voice provider '{secondary}'; this cluster has {string.Join(", ", providers.Names)}");
        if (c.Rubric is { } rubric) RubricRules.Validate(rubric);
    }

    private static void Require(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new RequestValidationException(field, "is required");
        if (value.Length > 256) throw new RequestValidationException(field, "is longer than 256 characters");
    }
}
