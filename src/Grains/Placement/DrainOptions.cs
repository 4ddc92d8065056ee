using Microsoft.Extensions.Options;

namespace VoiceActors.Placement;

/// <summary>Graceful drain on shutdown (section <c>Drain</c>).</summary>
public sealed class DrainOptions
{
    public const string Section = "Drain";

    /// <summary>The silo exits after this even if sessions remain; those resume elsewhere from storage on their next call or watchdog tick.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Sessions migrated at once.</summary>
    public int Parallelism { get; set; } = 64;
}

public sealed class DrainOptionsValidator : OptionsValidator<DrainOptions>
{
    protected override void Check(string? name, DrainOptions o, List<string> errors)
    {
        if (o.Deadline < TimeSpan.FromSeconds(1) || o.Deadline > TimeSpan.FromMinutes(30))
            errors.Add($"Drain:Deadline must be between 1s and 30min (got {o.Deadline}).");
        if (o.Parallelism is < 1 or > 10_000) errors.Add($"Drain:Parallelism must be between 1 and 10000 (got {o.Parallelism}).");
    }
}
