/// What an image says about itself, from OME-XML, an ImageJ description or baseline TIFF tags:
/// the record `fairway-metadata extract` prints and the metadata step stores.
public struct ImageMetadata: Codable, Sendable, Equatable {
    public struct Channel: Codable, Sendable, Equatable {
        public var name: String?
        /// Nanometres.
        public var emissionWavelength: Double?
        public var excitationWavelength: Double?
        public var fluor: String?
    }

    public struct Microscope: Codable, Sendable, Equatable {
        public var manufacturer: String?
        public var model: String?
        public var type: String?
    }

    public struct Objective: Codable, Sendable, Equatable {
        public var manufacturer: String?
        public var model: String?
        public var nominalMagnification: Double?
        public var lensNA: Double?
        public var immersion: String?
    }

    public struct Detector: Codable, Sendable, Equatable {
        public var manufacturer: String?
        public var model: String?
        public var type: String?
    }

    public struct LightSource: Codable, Sendable, Equatable {
        /// Laser, Arc, Filament, LightEmittingDiode, GenericExcitationSource.
        public var kind: String
        public var model: String?
        /// Nanometres.
        public var wavelength: Double?
    }

    public struct Instrument: Codable, Sendable, Equatable {
        public var microscope: Microscope?
        public var objectives: [Objective] = []
        public var detectors: [Detector] = []
        public var lightSources: [LightSource] = []
        public var filters: [String] = []
    }

    /// Where the values came from: `ome-xml`, `imagej` or `tiff-tags`.
    public var source: String
    public var imageName: String?
    public var acquisitionDate: String?
    public var sizeX: Int, sizeY: Int, sizeZ: Int, sizeC: Int, sizeT: Int
    public var pixelType: String
    public var dimensionOrder: String
    public var significantBits: Int
    /// Micrometres; nil when the file does not say.
    public var physicalSizeX: Double?, physicalSizeY: Double?, physicalSizeZ: Double?
    /// Seconds.
    public var timeIncrement: Double?
    public var channels: [Channel]
    public var instrument: Instrument?
    public var experimenter: String?
    public var software: String?
    /// OME MapAnnotation pairs (the vendor's original metadata), by namespace-less key.
    public var annotations: [String: String]
    /// What the catalog indexes for search: microscope, software, objective, lasers, filters,
    /// acquisition date, user.
    public var machineTags: [String: String]
    public var naming: FileNaming
}
