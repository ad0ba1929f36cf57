using System.CommandLine;
using System.Globalization;
using Platform.Grains.Devices;

namespace Platform.Silo.Cli;

/// <summary>`platform devices`: the training devices of a running platform, one line each.</summary>
public static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List every training device of the running platform: its silo, kind, memory and the run holding it.");
        command.SetAction(async (ParseResult _, CancellationToken cancellationToken) =>
            await IngestClusterCommands.WithClientAsync(async grains =>
            {
                var devices = await grains.GetGrain<IDeviceInventoryGrain>(0).ListDevices();
                if (devices.Count == 0)
                {
                    Console.Error.WriteLine("No silo offers a training device (see Training:Devices).");
                    return 0;
                }
                foreach (var line in Format(devices)) Console.WriteLine(line);
                return 0;
            }, cancellationToken));
        return command;
    }

    /// <summary>A header and one aligned line per device.</summary>
    public static IEnumerable<string> Format(IReadOnlyList<ClusterDevice> devices)
    {
        string[] header = ["SILO", "ADDRESS", "DEVICE", "MEMORY", "RUN", "NAME"];
        var rows = devices.Select(d => new[]
        {
            d.SiloName, d.Silo, d.Id, (d.MemoryBytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture) + " GiB", d.HeldByRun ?? "-", d.Name,
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i])));
        return rows.Select(Line).Prepend(Line(header));
    }
}
