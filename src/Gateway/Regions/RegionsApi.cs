using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using VoiceActors.Auth;
using VoiceActors.Regions;

namespace VoiceActors.Gateway.Regions;

/// <summary>Operators' view of the regions and the switch that marks one down (its sessions fail over) or back up.</summary>
public static class RegionsApi
{
    public const string OperatorPolicy = "region-operator";

    public sealed record RegionHealthRequest(string? Status, string? Reason);

    public sealed record RegionDto(
        string Name, bool Healthy, string Override, string HealthReason, IReadOnlyList<string> Fallback, string? LivekitUrl, bool Primary,
        DateTimeOffset? CheckedAt, int ActiveSessions, int Capacity, double Utilization, int RoomsWithoutAgent, IReadOnlyList<SiloDto> Silos);

    public sealed record SiloDto(string Silo, int ActiveSessions, int Capacity, double Utilization, int RoomsWithoutAgent, bool Draining, DateTimeOffset ReportedAt);

    /// <summary>Operators are API keys whose tenant is listed in <c>Gateway:OperatorTenants</c>; none are configured by default.</summary>
    public static IServiceCollection AddRegionsApi(this IServiceCollection services, IConfiguration configuration)
    {
        var operators = configuration.GetSection("Gateway:OperatorTenants").Get<string[]>() ?? [];
        services.AddAuthorizationBuilder().AddPolicy(OperatorPolicy, p => p.RequireAuthenticatedUser()
            .RequireAssertion(c => c.User.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim) is { } t && operators.Contains(t, StringComparer.Ordinal)));
        return services;
    }

    public static RouteGroupBuilder MapRegionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/regions").RequireAuthorization(OperatorPolicy).WithTags("Regions");
        api.MapGet("/", ListRegions);
        api.MapPut("/{name}/health", SetHealth);
        return api;
    }

    public static async Task<Ok<RegionDto[]>> ListRegions(IGrainFactory grains)
    {
        var view = await grains.GetGrain<IRegionDirectoryGrain>(IRegionDirectoryGrain.Key).GetView();
        var result = new RegionDto[view.Regions.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var r = view.Regions[i];
            result[i] = ToDto(r, await grains.GetGrain<ICapacityGrain>(r.Name).Get());
        }
        return TypedResults.Ok(result);
    }

    public static async Task<Results<Ok<RegionDto>, ValidationProblem>> SetHealth(string name, RegionHealthRequest body, IGrainFactory grains)
    {
        RegionHealthMode? mode = body.Status?.ToLowerInvariant() switch
        {
            "up" => RegionHealthMode.Up,
            "down" => RegionHealthMode.Down,
            "auto" => RegionHealthMode.Auto,
            _ => null,
        };
        if (mode is null) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["Must be 'up', 'down' or 'auto'."] });
        var info = await grains.GetGrain<IRegionDirectoryGrain>(IRegionDirectoryGrain.Key).SetHealth(name, mode.Value, body.Reason ?? "");
        return TypedResults.Ok(ToDto(info, await grains.GetGrain<ICapacityGrain>(name).Get()));
    }

    private static RegionDto ToDto(RegionInfo r, RegionCapacity c) => new(
        r.Name, r.Healthy, r.Override.ToString().ToLowerInvariant(), r.HealthReason, r.Fallback, r.LiveKitUrl, r.Primary, r.CheckedAt,
        c.ActiveSessions, c.Capacity, Math.Round(c.Utilization, 1), c.RoomsWithoutAgent,
        c.Silos.Select(s => new SiloDto(s.Silo, s.ActiveSessions, s.Capacity, Math.Round(s.Utilization, 1), s.RoomsWithoutAgent, s.Draining, s.At)).ToArray());
}
