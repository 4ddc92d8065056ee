using System.Globalization;

namespace VoiceActors.Tests.Operations;

/// <summary>One scrape of a Prometheus text exposition, parsed into samples (name, labels, value) and declared types.</summary>
public sealed class Exposition
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    private Exposition(IReadOnlyList<Sample> samples, IReadOnlyDictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<Sample> Samples { get; }

    /// <summary>Family name → type, from the <c># TYPE</c> lines.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public IEnumerable<string> Names => Samples.Select(s => s.Name).Distinct();

    public IEnumerable<Sample> Named(string name) => Samples.Where(s => s.Name == name);

    public double Single(string name) => Assert.Single(Named(name)).Value;

    public static async Task<Exposition> ScrapeAsync(HttpClient http, string path = "/metrics")
    {
        using var response = await http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    public static Exposition Parse(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }
            if (line[0] == '#') continue;
            samples.Add(ParseSample(line));
        }
        return new Exposition(samples, types);
    }

    private static Sample ParseSample(string line)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var brace = line.IndexOf('{');
        var space = line.IndexOf(' ');
        string name;
        int rest;
        if (brace >= 0 && brace < space)
        {
            name = line[..brace];
            var i = brace + 1;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var key = line[i..eq];
                var j = eq + 2; // skip ="
                var value = new System.Text.StringBuilder();
                while (line[j] != '"')
                {
                    if (line[j] == '\\') j++;
                    value.Append(line[j]);
                    j++;
                }
                labels[key] = value.ToString();
                i = j + 1;
                if (line[i] == ',') i++;
            }
            rest = i + 2;
        }
        else
        {
            name = line[..space];
            rest = space + 1;
        }
        var valueText = line[rest..].Split(' ')[0];
        var parsed = valueText switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(valueText, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, parsed);
    }
}
