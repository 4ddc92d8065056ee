using Microsoft.Extensions.Configuration;

namespace VoiceActors.Regions;

/// <summary>The region a silo serves: <c>Silo:Region</c>, <c>local</c> when unset or empty.</summary>
public static class SiloRegion
{
    public const string Key = "Silo:Region";
    public const string Default = "local";

    public static string Of(IConfiguration configuration) => configuration[Key] is { Length: > 0 } region ? region : Default;
}
