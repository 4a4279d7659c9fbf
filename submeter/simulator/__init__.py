"""Virtual meters and gateways that speak the real protocols over real sockets.

Pure Python, no Django. The pieces:

* `SimClock` (accelerated wall clock) / `ManualClock` (tests) — `clock`
* `MeterSpec`, `ElectricityMeter`, `WaterMeter`, `MeterAction`, `CommandRefused` — `meters`
* consumption `Profile`s — `profiles`; the hour → meter rate table `RateTable` — `rate_table`
* `Simulation` (meters + clock + gateways + outages) and `SimulationRunner` — `simulation`
* gateways: `MqttGateway`, `ModbusGateway`, `Dlt645Gateway`, `Cjt188Gateway`
* meters to simulate: `generate_meter_specs`, `load_meters_file`, `assign_gateways`,
  `build_meters` — `meter_specs`

See docs/simulator.md.
"""

from submeter.simulator.cjt188_gateway import Cjt188Gateway
from submeter.simulator.clock import Clock, ManualClock, SimClock
from submeter.simulator.dlt645_gateway import Dlt645Gateway
from submeter.simulator.gateway import Gateway
from submeter.simulator.meter_specs import (
    MetersFileError,
    assign_gateways,
    build_meters,
    generate_meter_specs,
    load_meters_file,
    parse_meter_specs,
)
from submeter.simulator.meters import (
    CommandRefused,
    ElectricityMeter,
    MeterAction,
    MeterKind,
    MeterSpec,
    WaterMeter,
    build_meter,
)
from submeter.simulator.modbus_gateway import ModbusGateway
from submeter.simulator.mqtt_gateway import MqttGateway
from submeter.simulator.profiles import Profile
from submeter.simulator.rate_table import DEFAULT_RATE_TABLE, RateTable
from submeter.simulator.simulation import Outage, Simulation, SimulationRunner

__all__ = [
    "DEFAULT_RATE_TABLE",
    "Cjt188Gateway",
    "Clock",
    "CommandRefused",
    "Dlt645Gateway",
    "ElectricityMeter",
    "Gateway",
    "ManualClock",
    "MeterAction",
    "MeterKind",
    "MeterSpec",
    "MetersFileError",
    "ModbusGateway",
    "MqttGateway",
    "Outage",
    "Profile",
    "RateTable",
    "SimClock",
    "Simulation",
    "SimulationRunner",
    "WaterMeter",
    "assign_gateways",
    "build_meter",
    "build_meters",
    "generate_meter_specs",
    "load_meters_file",
    "parse_meter_specs",
]
