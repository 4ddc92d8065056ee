using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.LiveKit;

/// <summary>
/// The LiveKit server of each region: <c>Regions:&lt;region&gt;:LiveKit:{Url,ApiKey,ApiSecret,…}</c> overrides the top-level
/// <c>LiveKit</c> section field by field; a region with no URL is served by the in-process <see cref="LiveKitStandIn"/>.
/// </summary>
public sealed class LiveKitDirectory : IDisposable
{
    public const string RegionsSection = LiveKitOptions.RegionsSection;

    private readonly IConfiguration _configuration;
    private readonly TimeProvider _clock;
    private readonly LiveKitStandIn? _standIn;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<string, LiveKitRegion> _regions = new(StringComparer.Ordinal);
    private readonly Lazy<HttpClient> _network = new(() => new HttpClient(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5), // picks up DNS changes of the LiveKit load balancer
        ConnectTimeout = TimeSpan.FromSeconds(2),
    }) { Timeout = Timeout.InfiniteTimeSpan });

    /// <param name="standIn">Null in processes that host no stand-in (the standalone gateway): they only verify tokens and webhooks.</param>
    public LiveKitDirectory(IConfiguration configuration, TimeProvider clock, ILoggerFactory loggers, LiveKitStandIn? standIn = null)
    {
        _configuration = configuration;
        _clock = clock;
        _loggers = loggers;
        _standIn = standIn;
        foreach (var region in ConfiguredRegions()) For(region); // fails fast on a bad region section, and registers stand-in keys
    }

    /// <summary>The default region's settings (top-level section only).</summary>
    public LiveKitRegion Default => For("");

    /// <summary>The LiveKit of <paramref name="region"/>: its room client, token factory and public URL.</summary>
    /// <exception cref="OptionsValidationException">The region's LiveKit settings are invalid.</exception>
    public LiveKitRegion For(string region) => _regions.GetOrAdd(region ?? "", Build);

    /// <summary>The token factory whose API key is <paramref name="apiKey"/> (webhooks name their key in <c>iss</c>), or null.</summary>
    public LiveKitTokens? TokensForApiKey(string apiKey) => RegionForApiKey(apiKey)?.Tokens;

    /// <summary>The region whose API key is <paramref name="apiKey"/> (a verified token's issuer), or null.</summary>
    public LiveKitRegion? RegionForApiKey(string? apiKey)
    {
        foreach (var r in _regions.Values)
            if (string.Equals(r.Tokens.ApiKey, apiKey, StringComparison.Ordinal)) return r;
        return null;
    }

    public IEnumerable<string> ConfiguredRegions() =>
        _configuration.GetSection(RegionsSection).GetChildren()
            .Where(s => s.GetSection(LiveKitOptions.Section).Exists())
            .Select(s => s.Key)
            .Prepend("");

    private LiveKitRegion Build(string region)
    {
        var options = LiveKitOptions.ForRegion(_configuration, region);
        var section = LiveKitOptions.SectionFor(region);
        var errors = LiveKitOptionsValidator.Check(options, section);
        if (errors.Count > 0) throw new OptionsValidationException(section, typeof(LiveKitOptions), errors);

        var tokens = new LiveKitTokens(options, _clock);
        var logger = _loggers.CreateLogger<LiveKitRoomClient>();
        if (options.UsesStandIn)
        {
            if (_standIn is null)
                return new LiveKitRegion(region, options, tokens, null, null);
            _standIn.RegisterKey(tokens);
            var client = new LiveKitRoomClient(new HttpClient(_standIn.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan },
                new Uri("http://livekit-stand-in.local"), tokens, options, logger);
            return new LiveKitRegion(region, options, tokens, client, _standIn);
        }
        var url = new Uri(options.Url!);
        return new LiveKitRegion(region, options, tokens, new LiveKitRoomClient(_network.Value, url, tokens, options, logger), null);
    }

    public void Dispose()
    {
        if (_network.IsValueCreated) _network.Value.Dispose();
    }
}

/// <summary>One region's LiveKit: where clients connect, how tokens are signed, and the RoomService client.</summary>
public sealed class LiveKitRegion(string region, LiveKitOptions options, LiveKitTokens tokens, LiveKitRoomClient? rooms, LiveKitStandIn? standIn)
{
    public string Region { get; } = region;
    public LiveKitOptions Options { get; } = options;
    public LiveKitTokens Tokens { get; } = tokens;

    /// <summary>The in-process stand-in serving this region, or null when a real LiveKit URL is configured.</summary>
    public LiveKitStandIn? StandIn { get; } = standIn;

    /// <summary>Whether clients can exchange audio here: a configured LiveKit does; the stand-in only with its SFU running.</summary>
    public bool HasMedia => StandIn is null || StandIn.HasMedia;

    /// <summary>The URL handed to clients with their token.</summary>
    public string PublicUrl => StandIn?.PublicUrl ?? Options.Url ?? "";

    /// <summary>The RoomService client.</summary>
    /// <exception cref="InvalidOperationException">This process hosts no stand-in and the region has no LiveKit URL.</exception>
    public LiveKitRoomClient Rooms => rooms
        ?? throw new InvalidOperationException($"Region '{Region}' has no LiveKit:Url and this process hosts no LiveKit stand-in.");
}
