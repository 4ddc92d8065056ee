namespace VoiceActors.Gateway.Telemetry;

using VoiceActors.Telemetry;

/// <summary>The standalone gateway's telemetry: the common exporters plus trace propagation into the grain calls it makes.</summary>
public static class GatewayTelemetry
{
    public static WebApplicationBuilder AddGatewayTelemetry(this WebApplicationBuilder builder)
    {
        builder.AddVoiceActorsTelemetry("voiceactors-gateway");
        builder.UseOrleansClient(client => client.AddActivityPropagation());
        return builder;
    }

    public static WebApplication MapGatewayTelemetry(this WebApplication app) => app.MapVoiceActorsTelemetry();
}
