using Azure.Storage.Blobs;
using Platform.Datasets;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Platform.Grains;
using Platform.Grains.Devices;
using Platform.Grains.Ingestion;
using Platform.Grains.Training;
using Platform.Model.Devices;
using Platform.Silo.Storage;

namespace Platform.Silo.Hosting;

public static class SiloBuilderExtensions
{
    /// <summary>
    /// Grain state and reminders in Azure Table storage, bulk data (manifests) in Blob storage.
    /// Shared by the host and the test clusters so both run the same storage wiring.
    /// </summary>
    public static ISiloBuilder AddPlatformStorage(this ISiloBuilder silo, StorageConnection storage, string manifestContainer)
    {
        silo.AddAzureTableGrainStorage(PlatformStorage.GrainStateProvider, o =>
        {
            o.TableServiceClient = storage.CreateTableClient();
            // Cleared state is the pages of a replaced generation (PagedRows): left as empty rows they would pile up for good.
            o.DeleteStateOnClear = true;
        });
        silo.UseAzureTableReminderService(o => o.TableServiceClient = storage.CreateTableClient());
        silo.Services.AddSingleton<BlobServiceClient>(_ => storage.CreateBlobClient());
        silo.Services.AddSingleton(sp => new DatasetManifestStore(sp.GetRequiredService<BlobServiceClient>(), manifestContainer));
        silo.Services.AddOptions<Platform.Grains.Work.StorageRetryOptions>();
        silo.Services.AddPlatformIngestion();
        silo.Services.AddPlatformTraining();
        return silo;
    }

    /// <summary>
    /// Advertises this silo's training devices in its silo metadata and places device-bound grains
    /// (<see cref="DevicePlacementAttribute"/>) on the silo owning their device. Every silo of a cluster
    /// needs it, including those that offer no devices, since any silo may place such a grain.
    /// </summary>
    public static ISiloBuilder AddPlatformDevices(this ISiloBuilder silo, IEnumerable<TrainingDevice> devices)
    {
        silo.UseSiloMetadata(SiloDeviceMetadata.ToMetadata(devices));
        silo.AddPlacementDirector<DevicePlacement, DevicePlacementDirector>();
        return silo;
    }

    /// <summary>Localhost clustering for one process; Azure Table membership when several silo processes form a cluster.</summary>
    public static ISiloBuilder AddPlatformClustering(this ISiloBuilder silo, ClusteringSettings clustering, StorageConnection storage)
    {
        if (ClusterTls.Load(clustering) is { } certificate) silo.UseTls(certificate, o => ClusterTls.Configure(o, certificate));
        if (clustering.Mode == ClusteringMode.Localhost)
        {
            silo.UseLocalhostClustering(clustering.SiloPort, clustering.GatewayPort,
                serviceId: clustering.ServiceId, clusterId: clustering.ClusterId);
            return silo;
        }

        silo.UseAzureStorageClustering(o => o.TableServiceClient = storage.CreateTableClient());
        silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ClusterId = clustering.ClusterId;
            o.ServiceId = clustering.ServiceId;
        });
        if (clustering.Kubernetes)
        {
            // The pod's address and names replace AdvertisedAddress and the ids above; the ports stay ours.
            silo.Configure<Orleans.Configuration.EndpointOptions>(o =>
            {
                o.SiloPort = clustering.SiloPort;
                o.GatewayPort = clustering.GatewayPort;
            });
            silo.UseKubernetesHosting();
            return silo;
        }
        silo.ConfigureEndpoints(System.Net.IPAddress.Parse(clustering.AdvertisedAddress), clustering.SiloPort, clustering.GatewayPort);
        return silo;
    }
}
