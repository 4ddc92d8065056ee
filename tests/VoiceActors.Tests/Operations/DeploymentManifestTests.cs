using System.Text.RegularExpressions;
using VoiceActors.Telemetry;

namespace VoiceActors.Tests.Operations;

/// <summary>The Kubernetes manifests and Dockerfiles under deploy/: they parse, and carry the settings operations rely on.</summary>
public sealed partial class DeploymentManifestTests
{
    private static readonly string K8s = Repository.PathOf("deploy", "k8s");
    private static readonly Dictionary<string, string> SiloLabels = new() { ["app.kubernetes.io/name"] = "voiceactors", ["app.kubernetes.io/component"] = "silo" };

    private static Manifest Find(string file, string kind, string name) =>
        Assert.Single(Manifest.LoadAll(Path.Combine(K8s, file)), m => m.Kind == kind && m.Name == name);

    private static Manifest SiloContainer => Find("silo.yaml", "Deployment", "voiceactors-silo").Items("spec.template.spec.containers").Single();

    [Fact]
    public void Every_manifest_parses_and_names_its_kind()
    {
        var files = Directory.GetFiles(K8s, "*.yaml");
        Assert.True(files.Length >= 5, "silo, gateway, pdb, hpa and adapter manifests");
        foreach (var file in files)
            Assert.All(Manifest.LoadAll(file), m =>
            {
                Assert.False(string.IsNullOrEmpty(m.Text("apiVersion")), $"{file}: apiVersion");
                Assert.False(string.IsNullOrEmpty(m.Kind), $"{file}: kind");
                Assert.False(string.IsNullOrEmpty(m.Name), $"{file}: metadata.name");
            });
    }

    [Fact]
    public void Silo_probes_healthz_and_may_drain_before_it_is_killed()
    {
        var silo = Find("silo.yaml", "Deployment", "voiceactors-silo");
        var container = SiloContainer;
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            Assert.Equal("/healthz", container.Text($"{probe}.httpGet.path"));
            Assert.Equal("http", container.Text($"{probe}.httpGet.port"));
        }
        Assert.Equal("8080", container.Items("ports").Single(p => p.Text("name") == "http").Text("containerPort"));

        // The kubelet kills at terminationGracePeriodSeconds, counted from the start of preStop: the host's shutdown
        // timeout (the drain budget) plus the preStop pause must fit inside it.
        var grace = silo.Int("spec.template.spec.terminationGracePeriodSeconds");
        var shutdown = int.Parse(container.Items("env").Single(e => e.Text("name") == "DOTNET_SHUTDOWNTIMEOUTSECONDS").Text("value")!);
        var preStop = int.Parse(((IList<object>)container.At("lifecycle.preStop.exec.command")!)[1].ToString()!);
        Assert.True(shutdown >= 60, "a drain migrates every live session; give it at least a minute");
        Assert.True(grace > shutdown + preStop, $"grace {grace}s must exceed shutdown {shutdown}s + preStop {preStop}s");
        Assert.Equal("0", silo.Text("spec.strategy.rollingUpdate.maxUnavailable"));
    }

    [Fact]
    public void Silos_spread_across_zones()
    {
        var spec = Find("silo.yaml", "Deployment", "voiceactors-silo");
        var term = spec.Items("spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution").Single();
        Assert.Equal("topology.kubernetes.io/zone", term.Text("podAffinityTerm.topologyKey"));
        AssertSelectsSilos(term.At("podAffinityTerm.labelSelector.matchLabels"));
        var spread = spec.Items("spec.template.spec.topologySpreadConstraints").Single();
        Assert.Equal("topology.kubernetes.io/zone", spread.Text("topologyKey"));
        AssertSelectsSilos(spread.At("labelSelector.matchLabels"));
        AssertSelectsSilos(spec.At("spec.template.metadata.labels"));
    }

    [Fact]
    public void Silo_requests_fit_an_IO_bound_workload_without_cpu_throttling()
    {
        var resources = SiloContainer;
        Assert.NotNull(resources.Text("resources.requests.cpu"));
        Assert.NotNull(resources.Text("resources.requests.memory"));
        Assert.NotNull(resources.Text("resources.limits.memory"));
        Assert.Null(resources.Text("resources.limits.cpu")); // CFS throttling would show up as audio latency
    }

    [Fact]
    public void Silo_is_configured_for_redis_clustering_and_scraped_by_prometheus()
    {
        var silo = Find("silo.yaml", "Deployment", "voiceactors-silo");
        var env = SiloContainer.Items("env").ToDictionary(e => e.Text("name")!);
        Assert.Equal("redis", env["ConnectionStrings__Redis"].Text("valueFrom.secretKeyRef.key"));
        Assert.Equal("status.podIP", env["Orleans__AdvertisedIP"].Text("valueFrom.fieldRef.fieldPath"));
        Assert.True(env.ContainsKey("Gateway__ApiKeys__0__Key"), "the dashboard is guarded by the API keys outside Development");
        var annotations = silo.Map("spec.template.metadata.annotations");
        Assert.Equal("true", annotations["prometheus.io/scrape"]);
        Assert.Equal("/metrics", annotations["prometheus.io/path"]);
        Assert.Equal("8080", annotations["prometheus.io/port"]);
    }

    [Fact]
    public void Gateway_has_a_deployment_and_a_service_on_its_http_port()
    {
        var gateway = Find("gateway.yaml", "Deployment", "voiceactors-gateway");
        var container = gateway.Items("spec.template.spec.containers").Single();
        Assert.Equal("/healthz", container.Text("readinessProbe.httpGet.path"));
        Assert.Equal("/healthz", container.Text("livenessProbe.httpGet.path"));
        var service = Find("gateway.yaml", "Service", "voiceactors-gateway");
        Assert.Equal("http", service.Items("spec.ports").Single().Text("targetPort"));
        var selector = service.Map("spec.selector");
        var labels = gateway.Map("spec.template.metadata.labels");
        Assert.Equal("gateway", selector["app.kubernetes.io/component"]);
        Assert.All(selector, kv => Assert.Equal(kv.Value, labels[kv.Key]));
    }

    [Fact]
    public void Disruption_budget_takes_one_silo_at_a_time()
    {
        var pdb = Find("pdb.yaml", "PodDisruptionBudget", "voiceactors-silo");
        Assert.Equal("1", pdb.Text("spec.maxUnavailable"));
        AssertSelectsSilos(pdb.At("spec.selector.matchLabels"));
    }

    [Fact]
    public void Autoscaler_targets_70_percent_utilization_and_rooms_without_agent_with_fast_up_slow_down()
    {
        var hpa = Find("hpa.yaml", "HorizontalPodAutoscaler", "voiceactors-silo");
        Assert.Equal("autoscaling/v2", hpa.Text("apiVersion"));
        Assert.Equal("voiceactors-silo", hpa.Text("spec.scaleTargetRef.name"));
        var metrics = hpa.Items("spec.metrics").ToDictionary(m => m.Text("pods.metric.name")!);
        Assert.Equal("70", metrics[VoiceMetrics.SessionUtilization].Text("pods.target.averageValue"));
        Assert.Contains(VoiceMetrics.RoomsWithoutAgent, metrics.Keys);
        Assert.DoesNotContain(hpa.Items("spec.metrics"), m => m.Text("type") == "Resource"); // not CPU

        var up = hpa.Items("spec.behavior.scaleUp.policies").Single();
        Assert.Equal(("Percent", "100", "60"), (up.Text("type"), up.Text("value"), up.Text("periodSeconds")));
        Assert.Equal("0", hpa.Text("spec.behavior.scaleUp.stabilizationWindowSeconds"));
        var down = hpa.Items("spec.behavior.scaleDown.policies").Single();
        Assert.Equal(("Pods", "2", "120"), (down.Text("type"), down.Text("value"), down.Text("periodSeconds")));
        Assert.Equal("600", hpa.Text("spec.behavior.scaleDown.stabilizationWindowSeconds"));

        // prometheus-adapter serves exactly these names to the HPA.
        var adapter = (string)Find("prometheus-adapter.yaml", "ConfigMap", "prometheus-adapter").Map("data")["config.yaml"];
        Assert.Contains($"seriesQuery: '{VoiceMetrics.SessionUtilization}{{", adapter);
        Assert.Contains($"seriesQuery: '{VoiceMetrics.RoomsWithoutAgent}{{", adapter);
    }

    [Theory]
    [InlineData("silo.Dockerfile", "Silo", "VoiceActors.Silo.dll")]
    [InlineData("gateway.Dockerfile", "Gateway", "VoiceActors.Gateway.dll")]
    public void Dockerfiles_copy_files_that_exist_and_start_the_published_assembly(string file, string project, string dll)
    {
        var text = File.ReadAllText(Repository.PathOf("deploy", "docker", file));
        foreach (Match copy in CopyLine().Matches(text))
            foreach (var source in copy.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1])
                Assert.True(File.Exists(Repository.PathOf(source)) || Directory.Exists(Repository.PathOf(source)), $"{file} copies missing {source}");
        Assert.Contains($"dotnet publish src/{project}/{project}.csproj", text);
        Assert.Contains($"ENTRYPOINT [\"dotnet\", \"{dll}\"", text);
        Assert.Contains("ASPNETCORE_ENVIRONMENT=Production", text);
        var csproj = File.ReadAllText(Repository.PathOf("src", project, $"{project}.csproj"));
        Assert.Contains($"<AssemblyName>{Path.GetFileNameWithoutExtension(dll)}</AssemblyName>", csproj);
    }

    private static void AssertSelectsSilos(object? matchLabels)
    {
        var labels = Assert.IsAssignableFrom<IDictionary<object, object>>(matchLabels);
        foreach (var (key, value) in SiloLabels) Assert.Equal(value, labels[key]);
    }

    [GeneratedRegex(@"^COPY (?!--from)(.+)$", RegexOptions.Multiline)]
    private static partial Regex CopyLine();
}
