using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace VoiceActors.LiveKit;

/// <summary>
/// The LiveKit server of a region (configuration section <c>LiveKit</c>, overridden per region by <c>Regions:&lt;region&gt;:LiveKit</c>).
/// With no <see cref="Url"/> the in-process <see cref="LiveKitStandIn"/> serves the region with the same key and secret.
/// </summary>
public sealed class LiveKitOptions
{
    public const string Section = "LiveKit";

    /// <summary>The configuration section holding one child per region.</summary>
    public const string RegionsSection = "Regions";

    /// <summary>Documented development key of the embedded stand-in; a real server must be configured with its own.</summary>
    public const string DevelopmentApiKey = "devkey";

    /// <summary>Development secret of the embedded stand-in: 32+ bytes, because HS256 keys under 256 bits are refused.</summary>
    public const string DevelopmentApiSecret = "voiceactors-embedded-livekit-development-secret";

    /// <summary>Public URL clients connect to (<c>wss://…</c> or <c>https://…</c>); unset selects the in-process stand-in.</summary>
    public string? Url { get; set; }

    public string ApiKey { get; set; } = DevelopmentApiKey;

    public string ApiSecret { get; set; } = DevelopmentApiSecret;

    /// <summary>Bound of one RoomService HTTP attempt.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Bound of provisioning a room, all retries included; past it the session fails instead of hanging its caller.</summary>
    public TimeSpan ProvisionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Retries of a transient failure (5xx, 429, timeouts, refused connections); 4xx is never retried.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Room <c>empty_timeout</c> in seconds: how long LiveKit keeps a room nobody joined.</summary>
    public uint RoomEmptyTimeoutSeconds { get; set; } = 30;

    /// <summary>Room <c>max_participants</c>: candidate + agent + optional observer, one spare for a reconnect overlap.</summary>
    public uint RoomMaxParticipants { get; set; } = 4;

    public bool UsesStandIn => string.IsNullOrWhiteSpace(Url);

    /// <summary>Where <paramref name="region"/>'s LiveKit is configured: <c>Regions:&lt;region&gt;:LiveKit</c>, or <c>LiveKit</c> for the default ("").</summary>
    public static string SectionFor(string? region) => string.IsNullOrEmpty(region) ? Section : $"{RegionsSection}:{region}:{Section}";

    /// <summary>
    /// The one model of a region's LiveKit: the top-level <c>LiveKit</c> section, overridden field by field by
    /// <c>Regions:&lt;region&gt;:LiveKit</c>. The LiveKit directory and the silo's region options both read it here.
    /// </summary>
    public static LiveKitOptions ForRegion(IConfiguration configuration, string? region)
    {
        var options = new LiveKitOptions();
        configuration.GetSection(Section).Bind(options);
        if (!string.IsNullOrEmpty(region)) configuration.GetSection(SectionFor(region)).Bind(options);
        return options;
    }
}

public sealed class LiveKitOptionsValidator : IValidateOptions<LiveKitOptions>
{
    public ValidateOptionsResult Validate(string? name, LiveKitOptions o)
    {
        var errors = Check(o, LiveKitOptions.SectionFor(name));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public static List<string> Check(LiveKitOptions o, string section)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.ApiKey)) errors.Add($"{section}:ApiKey is required: it is the issuer of every token.");
        if (Encoding.UTF8.GetByteCount(o.ApiSecret ?? "") < 32)
            errors.Add($"{section}:ApiSecret must be at least 32 bytes: HS256 keys under 256 bits are refused.");
        if (!o.UsesStandIn && (!Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || url.Scheme is not ("ws" or "wss" or "http" or "https")))
            errors.Add($"{section}:Url must be an absolute ws://, wss://, http:// or https:// URL.");
        if (o.RequestTimeout <= TimeSpan.Zero) errors.Add($"{section}:RequestTimeout must be positive.");
        if (o.ProvisionTimeout < o.RequestTimeout) errors.Add($"{section}:ProvisionTimeout must be at least one RequestTimeout.");
        if (o.MaxRetries is < 0 or > 10) errors.Add($"{section}:MaxRetries must be between 0 and 10.");
        if (o.RoomMaxParticipants < 2) errors.Add($"{section}:RoomMaxParticipants must be at least 2 (candidate and agent).");
        return errors;
    }
}
