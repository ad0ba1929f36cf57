using System.Reflection;
using System.Text.RegularExpressions;
using Platform.Silo.Hosting;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Platform.Tests.Deploy;

/// <summary>
/// The container and Kubernetes files of deploy/ cannot run on these machines (no docker daemon, no cluster), so they are
/// checked as files: they parse, they set only settings the platform has, and they hold what deploy/README.md promises.
/// </summary>
public sealed class DeployFilesTests
{
    private static readonly string Deploy = Path.Combine(ClusterScript.RepositoryRoot, "deploy");

    /// <summary>Every YAML document of a file, as nested dictionaries and lists (merge keys `<<` applied).</summary>
    private static List<Dictionary<object, object>> Documents(string path)
    {
        var deserializer = new DeserializerBuilder().Build();
        using var reader = new StringReader(File.ReadAllText(path));
        var parser = new MergingParser(new Parser(reader));
        parser.Consume<StreamStart>();
        var documents = new List<Dictionary<object, object>>();
        while (parser.Accept<DocumentStart>(out _))
            documents.Add(deserializer.Deserialize<Dictionary<object, object>>(parser));
        return documents;
    }

    private static Dictionary<object, object> Map(object? node) => Assert.IsType<Dictionary<object, object>>(node);
    private static List<object> List(object? node) => Assert.IsType<List<object>>(node);
    private static object? At(object? node, params string[] path) => path.Aggregate(node, (n, key) => Map(n).GetValueOrDefault(key));

    private static IEnumerable<string> KubernetesFiles => Directory.GetFiles(Path.Combine(Deploy, "k8s"), "*.yaml").Order(StringComparer.Ordinal);

    private static List<Dictionary<object, object>> KubernetesObjects() =>
        [.. KubernetesFiles.Where(f => Path.GetFileName(f) != "kustomization.yaml").SelectMany(Documents)];

    /// <summary>`PLATFORM_Section__Key` for every top-level setting of every settings class, as the host binds them.</summary>
    private static HashSet<string> KnownVariables()
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in typeof(PlatformConfiguration).Assembly.GetTypes())
        {
            if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() is not string section) continue;
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
                known.Add($"{PlatformConfiguration.EnvironmentPrefix}{section}__{property.Name}");
        }
        return known;
    }

    [Fact]
    public void Every_platform_variable_the_deploy_files_set_names_a_setting_the_host_binds()
    {
        var known = KnownVariables();
        Assert.Contains("PLATFORM_Clustering__Kubernetes", known);
        var files = new[] { "cluster.sh", "Dockerfile", "compose.yaml" }.Select(f => Path.Combine(Deploy, f)).Concat(KubernetesFiles).ToList();
        var used = files.SelectMany(f => Regex.Matches(File.ReadAllText(f), @"PLATFORM_[A-Za-z]+__[A-Za-z]+").Select(m => (File: Path.GetFileName(f), Name: m.Value))).ToList();
        Assert.True(used.Count > 20, $"only {used.Count} settings found in {string.Join(", ", files)}");
        Assert.Empty(used.Where(u => !known.Contains(u.Name)).Select(u => $"{u.File}: {u.Name}").Distinct());
    }

    [Fact]
    public void The_kubernetes_manifests_run_silos_with_kubernetes_hosting_health_probes_its_rbac_a_disruption_budget_and_gpu_trainers()
    {
        var listed = List(Documents(Path.Combine(Deploy, "k8s", "kustomization.yaml")).Single()["resources"]).Cast<string>().Order(StringComparer.Ordinal);
        Assert.Equal(KubernetesFiles.Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal), listed);
        var objects = KubernetesObjects();
        Assert.All(objects, o => Assert.True(o.ContainsKey("apiVersion") && o.ContainsKey("kind") && At(o, "metadata", "name") is string, $"incomplete object: {string.Join(", ", o.Keys)}"));
        IEnumerable<Dictionary<object, object>> Kind(string kind) => objects.Where(o => (string)o["kind"] == kind);

        var role = Kind("Role").Single();
        Assert.Contains(List(role["rules"]).Select(Map), rule => List(rule["resources"]).Contains("pods") && List(rule["verbs"]).Contains("delete"));
        var binding = Kind("RoleBinding").Single();
        Assert.Equal(At(role, "metadata", "name"), At(binding, "roleRef", "name"));
        var account = (string)At(Kind("ServiceAccount").Single(), "metadata", "name")!;
        Assert.Contains(List(binding["subjects"]).Select(Map), s => (string)s["name"] == account);
        var secret = Kind("Secret").Single();

        var deployments = Kind("Deployment").ToList();
        Assert.Equal(["simvlm-silo", "simvlm-trainer"], deployments.Select(d => (string)At(d, "metadata", "name")!).Order(StringComparer.Ordinal));
        var budgetSelector = Map(At(Kind("PodDisruptionBudget").Single(), "spec", "selector", "matchLabels"));
        var serviceSelector = Map(At(Kind("Service").Single(), "spec", "selector"));
        Assert.Contains(List(At(Kind("Service").Single(), "spec", "ports")).Select(Map), p => p["port"] is "30000");
        foreach (var deployment in deployments)
        {
            var pod = At(deployment, "spec", "template");
            var labels = Map(At(pod, "metadata", "labels"));
            Assert.All(budgetSelector.Concat(serviceSelector), label => Assert.Equal(label.Value, labels.GetValueOrDefault(label.Key)));
            Assert.True(labels.ContainsKey("orleans/clusterId") && labels.ContainsKey("orleans/serviceId"), "Kubernetes hosting reads the ids from the pod's labels");
            Assert.Equal(account, At(pod, "spec", "serviceAccountName"));
            var container = Map(List(At(pod, "spec", "containers")).Single());
            foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
                Assert.Equal("/healthz", At(container, probe, "httpGet", "path"));
            var env = List(container["env"]).Select(Map).ToDictionary(e => (string)e["name"]);
            Assert.Equal("true", env["PLATFORM_Clustering__Kubernetes"]["value"]);
            Assert.Equal("AzureTable", env["PLATFORM_Clustering__Mode"]["value"]);
            foreach (var variable in new[] { "POD_NAME", "POD_NAMESPACE", "POD_IP", "ORLEANS_CLUSTER_ID", "ORLEANS_SERVICE_ID" })
                Assert.True(env.ContainsKey(variable), $"{variable} missing: Kubernetes hosting reads it");
            Assert.Equal(At(secret, "metadata", "name"), At(env["PLATFORM_Storage__ConnectionString"], "valueFrom", "secretKeyRef", "name"));
            Assert.Contains((string)At(env["PLATFORM_Storage__ConnectionString"], "valueFrom", "secretKeyRef", "key")!, Map(secret["stringData"]).Keys);
        }
        var trainer = Map(List(At(deployments.Single(d => (string)At(d, "metadata", "name")! == "simvlm-trainer"), "spec", "template", "spec", "containers")).Single());
        Assert.Equal("1", At(trainer, "resources", "limits", "nvidia.com/gpu"));
    }

    [Fact]
    public void The_compose_file_runs_azurite_postgresql_and_three_azure_table_silos_of_which_one_advertises_devices()
    {
        var services = Map(Documents(Path.Combine(Deploy, "compose.yaml")).Single()["services"]);
        Assert.Contains("azurite", services.Keys);
        Assert.Contains("postgres", services.Keys);
        var silos = services.Where(s => ((string)s.Key).StartsWith("silo-", StringComparison.Ordinal)).Select(s => Map(s.Value)).ToList();
        Assert.Equal(3, silos.Count);
        var environments = silos.Select(s => Map(s["environment"])).ToList();
        Assert.All(environments, e =>
        {
            Assert.Equal("AzureTable", e["PLATFORM_Clustering__Mode"]);
            Assert.Contains("azurite:10002", (string)e["PLATFORM_Storage__ConnectionString"]);
            Assert.Contains("Host=postgres", (string)e["PLATFORM_Hangfire__PostgreSqlConnectionString"]);
        });
        Assert.Single(environments, e => (string)e["PLATFORM_Training__Devices"] != "none");
        Assert.All(silos, s => Assert.Equal("deploy/Dockerfile", At(s, "build", "dockerfile")));
    }

    [Fact]
    public void The_dockerfile_builds_on_the_sdk_image_and_runs_as_a_non_root_user_with_a_health_check_on_healthz()
    {
        var lines = File.ReadAllLines(Path.Combine(Deploy, "Dockerfile"));
        var stages = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, stages.Count);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0", stages[0]);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", stages[1]);
        var runtime = lines.SkipWhile(l => l != stages[1]).ToList();
        Assert.Contains(runtime, l => l.StartsWith("USER ", StringComparison.Ordinal) && !l.Contains("root", StringComparison.Ordinal));
        var healthCheck = string.Join(' ', runtime.SkipWhile(l => !l.StartsWith("HEALTHCHECK", StringComparison.Ordinal)).Take(2));
        Assert.Contains("/healthz", healthCheck);
        Assert.Contains(runtime, l => l.Contains("PLATFORM_Web__Urls=http://0.0.0.0:", StringComparison.Ordinal));
    }
}
