using System.Net;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace VoiceActors.Gateway.Hosting;

/// <summary>The standalone gateway is an Orleans client: of a Redis-clustered fleet, or of a local embedded silo.</summary>
public static class GatewayClientHosting
{
    public static WebApplicationBuilder AddGatewayClient(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = config["Orleans:ClusterId"] ?? "voiceactors";
                o.ServiceId = config["Orleans:ServiceId"] ?? "voiceactors";
            });
            var redis = config.GetConnectionString("Redis");
            if (!string.IsNullOrWhiteSpace(redis))
            {
                client.UseRedisClustering(redis);
                // A dead silo's gateway must drop out of the client's list quickly, not after the default minute.
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            }
            else
            {
                client.UseLocalhostClustering(config.GetValue("Orleans:GatewayPort", 30000));
            }
        });
        return builder;
    }
}
