using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VoiceActors.Tests.Operations;

/// <summary>The silo manifest sets <c>DOTNET_SHUTDOWNTIMEOUTSECONDS</c>; the host must read it as its shutdown (drain) budget.</summary>
public sealed class ShutdownTimeoutTests
{
    [Fact]
    public async Task Silo_takes_its_shutdown_budget_from_the_setting_the_manifest_uses()
    {
        var manifest = Manifest.LoadAll(Repository.PathOf("deploy", "k8s", "silo.yaml")).Single(m => m.Kind == "Deployment");
        var env = manifest.Items("spec.template.spec.containers[0].env").Single(e => e.Text("name") == "DOTNET_SHUTDOWNTIMEOUTSECONDS");
        // DOTNET_-prefixed environment variables are host configuration with the prefix removed.
        await using var system = new EmbeddedSystem().With("SHUTDOWNTIMEOUTSECONDS", env.Text("value"));
        var options = system.Services.GetRequiredService<IOptions<HostOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(int.Parse(env.Text("value")!)), options.ShutdownTimeout);
    }
}
