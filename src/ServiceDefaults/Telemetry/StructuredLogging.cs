using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace VoiceActors.Telemetry;

/// <summary>
/// JSON lines on the console outside Development (what a log shipper parses), with logging scopes included so every
/// line logged on behalf of a session carries <c>session_id</c> and <c>tenant_id</c>. Development keeps the readable
/// console, scopes included too.
/// </summary>
public static class StructuredLogging
{
    public static WebApplicationBuilder AddStructuredLogging(this WebApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment())
        {
            builder.Logging.AddSimpleConsole(o => o.IncludeScopes = true);
            return builder;
        }
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            o.JsonWriterOptions = new JsonWriterOptions { Indented = false }; // one event per line
        });
        return builder;
    }
}
