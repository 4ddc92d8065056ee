using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication;
using VoiceActors.Auth;
using VoiceActors.Gateway.Errors;
using VoiceActors.Gateway.Interviews;
using VoiceActors.Gateway.LiveKit;
using VoiceActors.Gateway.Media;
using VoiceActors.Gateway.Regions;
using VoiceActors.Gateway.PostSession;
using VoiceActors.Gateway.Recording;
using VoiceActors.Gateway.Timeline;

namespace VoiceActors.Gateway.Hosting;

/// <summary>The gateway HTTP API, served by the standalone gateway and by a silo on embedded defaults alike.</summary>
public static class GatewayHosting
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Applies the default listen address unless <c>--urls</c> / <c>ASPNETCORE_URLS</c> says otherwise.</summary>
    public static void UseDefaultUrl(this WebApplicationBuilder builder, string url)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"])) builder.WebHost.UseUrls(url);
    }

    public static WebApplicationBuilder AddGatewayApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<ApiKeyStore>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName).AddApiKey();
        services.AddAuthorization();
        services.AddProblemDetails();
        services.AddExceptionHandler<GrainExceptionHandler>();
        services.AddRegionsApi(builder.Configuration);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        });
        services.AddOpenApi();
        services.AddLiveKitApi();
        services.AddMediaSockets();
        return builder;
    }

    /// <summary>Middleware every HTTP front (gateway or silo) needs: problem details for every error, auth.</summary>
    public static WebApplication UseGatewayPipeline(this WebApplication app)
    {
        app.Services.GetRequiredService<ApiKeyStore>().EnsureAny(); // fail at start-up, not on the first request, when keys are misconfigured
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    public static WebApplication MapGatewayApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapInterviewsApi();
        app.MapLiveKitApi();
        app.MapMediaApi();
        app.MapRegionsApi();
        app.MapPostSessionApi();
        app.MapTimelineApi();
        return app;
    }
}
