using VoiceActors.Providers;

namespace VoiceActors.Sessions;

/// <summary>What a create must carry before anything is stored: the ids, a region, a provider this cluster has, a valid rubric.</summary>
internal static class CreateSessionRules
{
    public static void Validate(string sessionId, CreateSession c, VoiceProviderRegistry providers)
    {
        Require(sessionId, c.TenantId, "tenantId");
        Require(sessionId, c.CandidateId, "candidateId");
        Require(sessionId, c.JobId, "jobId");
        Require(sessionId, c.Region, "region");
        Require(sessionId, c.Provider?.Name, "provider");
        if (!providers.Contains(c.Provider!.Name))
            throw new SessionValidationException(sessionId, "provider", $"unknown voice provider '{c.Provider.Name}'; this cluster has {string.Join(", ", providers.Names)}");
        if (c.Provider.Secondary is { Length: > 0 } secondary && !providers.Contains(secondary))
            throw new SessionValidationException(sessionId, "providerOptions.secondary", $"unknown voice provider '{secondary}'; this cluster has {string.Join(", ", providers.Names)}");
        if (c.Rubric is { } rubric) RubricRules.Validate(sessionId, rubric);
    }

    private static void Require(string sessionId, string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new SessionValidationException(sessionId, field, "is required");
        if (value.Length > 256) throw new SessionValidationException(sessionId, field, "is longer than 256 characters");
    }
}
