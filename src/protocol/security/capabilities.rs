//! The capability list a device registers with: the body of `POST /iclock/registry?SN=…`
//! [note §2.4, §2.7; seed 003 §4.4].

use crate::protocol::request::{CommaPairError, checked_comma_pairs};

/// The registry capabilities, filled by the caller [note §2.7]. [`Capabilities::encode`] writes them
/// in the seed's key order, `key=value` joined by commas, no spaces [AMB-44]. Flags are written
/// `0`/`1`. `None` keys are left out (the seed's example omits `MAC` and `CmdFormat`).
///
/// Bitmap values (`VerifyStyles`, `EventTypes`, `AccSupportFunList`, `NewVFStyles` and
/// `New*EventTypes` in `extra`) are taken as text made by the encoders of [`super::bitmaps`] (C07).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// `DeviceType`: `acc` for access control.
    pub device_type: String,
    /// `~DeviceName`.
    pub device_name: String,
    /// `FirmVer`.
    pub firmware_version: String,
    /// `PushVersion`: the PUSH SDK version string.
    pub push_version: String,
    /// `MAC`.
    pub mac: Option<String>,
    /// `CommType`: `ethernet`, `usb-4G-modem` or `serial-wireless`.
    pub comm_type: String,
    /// `MaxPackageSize` in bytes; also bounds querydata packages (see
    /// [`super::requests::querydata_tabledata`], whose caller keeps packages under it).
    pub max_package_size: u32,
    /// `LockCount`: doors.
    pub lock_count: u32,
    /// `ReaderCount`.
    pub reader_count: u32,
    /// `AuxInCount`.
    pub aux_in_count: u32,
    /// `AuxOutCount`.
    pub aux_out_count: u32,
    /// `MachineType` (App 7).
    pub machine_type: u32,
    /// `~IsOnlyRFMachine`.
    pub only_rf_machine: bool,
    /// `~MaxUserCount`.
    pub max_user_count: u32,
    /// `~MaxAttLogCount`.
    pub max_att_log_count: u32,
    /// `~MaxUserFingerCount`.
    pub max_user_finger_count: u32,
    /// `MThreshold`.
    pub m_threshold: u32,
    /// `IPAddress`.
    pub ip_address: String,
    /// `NetMask`.
    pub net_mask: String,
    /// `GATEIPAddress`.
    pub gateway: String,
    /// `~ZKFPVersion`.
    pub zkfp_version: u32,
    /// `IclockSvrFun` (ADMS enabled), written only when set, after `~ZKFPVersion` as in the seed.
    pub iclock_svr_fun: Option<bool>,
    /// `OverallAntiFunOn`, written only when set, after `IclockSvrFun`.
    pub overall_anti_fun_on: Option<bool>,
    /// `~REXInputFunOn`.
    pub rex_input_fun_on: bool,
    /// `~CardFormatFunOn`.
    pub card_format_fun_on: bool,
    /// `~SupAuthrizeFunOn` (the spec's spelling).
    pub sup_authorize_fun_on: bool,
    /// `~ReaderCFGFunOn`.
    pub reader_cfg_fun_on: bool,
    /// `~ReaderLinkageFunOn`.
    pub reader_linkage_fun_on: bool,
    /// `~RelayStateFunOn`.
    pub relay_state_fun_on: bool,
    /// `~Ext485ReaderFunOn`.
    pub ext485_reader_fun_on: bool,
    /// `~TimeAPBFunOn`.
    pub time_apb_fun_on: bool,
    /// `~CtlAllRelayFunOn`.
    pub ctl_all_relay_fun_on: bool,
    /// `~LossCardFunOn`.
    pub loss_card_fun_on: bool,
    /// `SimpleEventType`.
    pub simple_event_type: bool,
    /// `VerifyStyles` (hex text, AMB-11).
    pub verify_styles: String,
    /// `EventTypes` (64 hex digits, note §2.9).
    pub event_types: String,
    /// `DisableUserFunOn`.
    pub disable_user_fun_on: bool,
    /// `DeleteAndFunOn`.
    pub delete_and_fun_on: bool,
    /// `LogIDFunOn`.
    pub log_id_fun_on: bool,
    /// `DateFmtFunOn`.
    pub date_fmt_fun_on: bool,
    /// `DelAllLossCardFunOn`.
    pub del_all_loss_card_fun_on: bool,
    /// `AutoClearDay`.
    pub auto_clear_day: u32,
    /// `FirstDelayDay`.
    pub first_delay_day: u32,
    /// `DelayDay`.
    pub delay_day: u32,
    /// `StopAllVerify`.
    pub stop_all_verify: bool,
    /// `FvFunOn`.
    pub fv_fun_on: bool,
    /// `FaceFunOn`.
    pub face_fun_on: bool,
    /// `FingerFunOn`.
    pub finger_fun_on: bool,
    /// `CameraOpen`.
    pub camera_open: bool,
    /// `AccSupportFunList` (positional 0/1 text, note §2.8).
    pub acc_support_fun_list: String,
    /// `AutoServerFunOn`.
    pub auto_server_fun_on: bool,
    /// `DelayOpenDoorFunOn`.
    pub delay_open_door_fun_on: bool,
    /// `UserOpenDoorDelayFunOn`.
    pub user_open_door_delay_fun_on: bool,
    /// `MultiCardInterTimeFunOn`.
    pub multi_card_inter_time_fun_on: bool,
    /// `OutRelaySetFunOn`.
    pub out_relay_set_fun_on: bool,
    /// `MachineTZFunOn`.
    pub machine_tz_fun_on: bool,
    /// `DSTFunOn`.
    pub dst_fun_on: bool,
    /// `CardSiteCodeFunOn`.
    pub card_site_code_fun_on: bool,
    /// `MulCardUserFunOn`.
    pub mul_card_user_fun_on: bool,
    /// `UserNameFunOn`.
    pub user_name_fun_on: bool,
    /// `StringPinFunOn`.
    pub string_pin_fun_on: bool,
    /// `MaxLockCount`.
    pub max_lock_count: u32,
    /// `MaxZigbeeCount`.
    pub max_zigbee_count: u32,
    /// `MaxMCUCardBits`.
    pub max_mcu_card_bits: u32,
    /// `SupportReaderType`.
    pub support_reader_type: u32,
    /// `CmdFormat` (App 14; the note advises 0, AMB-45).
    pub cmd_format: Option<u8>,
    /// `authKey`: the communication key.
    pub auth_key: Option<String>,
    /// The template's later keys (`MultiStageControlFunOn` … `DevNSLevel`) and annotation-only
    /// ones (`WGRuleVer`, `New*EventTypes`), written last in the order given [AMB-44].
    pub extra: Vec<(String, String)>,
}

/// A capability that would break the comma-separated list: `BadValue(key)` for a value with a
/// comma, CR or LF, `BadKey(key)` for an `extra` key that is empty or holds `=`, a comma, CR or LF.
/// The check is the one every comma-joined body of the agent goes through
/// ([`crate::protocol::request::CommaPairError`]).
pub type CapabilityError = CommaPairError;

impl Capabilities {
    /// The registry body [note §2.4, §2.7; seed 003 §4.4 template and example].
    pub fn encode(&self) -> Result<String, CapabilityError> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        let mut items: Vec<(&str, String)> = vec![
            ("DeviceType", self.device_type.clone()),
            ("~DeviceName", self.device_name.clone()),
            ("FirmVer", self.firmware_version.clone()),
            ("PushVersion", self.push_version.clone()),
        ];
        if let Some(mac) = &self.mac {
            items.push(("MAC", mac.clone()));
        }
        items.extend([
            ("CommType", self.comm_type.clone()),
            ("MaxPackageSize", self.max_package_size.to_string()),
            ("LockCount", self.lock_count.to_string()),
            ("ReaderCount", self.reader_count.to_string()),
            ("AuxInCount", self.aux_in_count.to_string()),
            ("AuxOutCount", self.aux_out_count.to_string()),
            ("MachineType", self.machine_type.to_string()),
            ("~IsOnlyRFMachine", flag(self.only_rf_machine)),
            ("~MaxUserCount", self.max_user_count.to_string()),
            ("~MaxAttLogCount", self.max_att_log_count.to_string()),
            (
                "~MaxUserFingerCount",
                self.max_user_finger_count.to_string(),
            ),
            ("MThreshold", self.m_threshold.to_string()),
            ("IPAddress", self.ip_address.clone()),
            ("NetMask", self.net_mask.clone()),
            ("GATEIPAddress", self.gateway.clone()),
            ("~ZKFPVersion", self.zkfp_version.to_string()),
        ]);
        if let Some(on) = self.iclock_svr_fun {
            items.push(("IclockSvrFun", flag(on)));
        }
        if let Some(on) = self.overall_anti_fun_on {
            items.push(("OverallAntiFunOn", flag(on)));
        }
        items.extend([
            ("~REXInputFunOn", flag(self.rex_input_fun_on)),
            ("~CardFormatFunOn", flag(self.card_format_fun_on)),
            ("~SupAuthrizeFunOn", flag(self.sup_authorize_fun_on)),
            ("~ReaderCFGFunOn", flag(self.reader_cfg_fun_on)),
            ("~ReaderLinkageFunOn", flag(self.reader_linkage_fun_on)),
            ("~RelayStateFunOn", flag(self.relay_state_fun_on)),
            ("~Ext485ReaderFunOn", flag(self.ext485_reader_fun_on)),
            ("~TimeAPBFunOn", flag(self.time_apb_fun_on)),
            ("~CtlAllRelayFunOn", flag(self.ctl_all_relay_fun_on)),
            ("~LossCardFunOn", flag(self.loss_card_fun_on)),
            ("SimpleEventType", flag(self.simple_event_type)),
            ("VerifyStyles", self.verify_styles.clone()),
            ("EventTypes", self.event_types.clone()),
            ("DisableUserFunOn", flag(self.disable_user_fun_on)),
            ("DeleteAndFunOn", flag(self.delete_and_fun_on)),
            ("LogIDFunOn", flag(self.log_id_fun_on)),
            ("DateFmtFunOn", flag(self.date_fmt_fun_on)),
            ("DelAllLossCardFunOn", flag(self.del_all_loss_card_fun_on)),
            ("AutoClearDay", self.auto_clear_day.to_string()),
            ("FirstDelayDay", self.first_delay_day.to_string()),
            ("DelayDay", self.delay_day.to_string()),
            ("StopAllVerify", flag(self.stop_all_verify)),
            ("FvFunOn", flag(self.fv_fun_on)),
            ("FaceFunOn", flag(self.face_fun_on)),
            ("FingerFunOn", flag(self.finger_fun_on)),
            ("CameraOpen", flag(self.camera_open)),
            ("AccSupportFunList", self.acc_support_fun_list.clone()),
            ("AutoServerFunOn", flag(self.auto_server_fun_on)),
            ("DelayOpenDoorFunOn", flag(self.delay_open_door_fun_on)),
            (
                "UserOpenDoorDelayFunOn",
                flag(self.user_open_door_delay_fun_on),
            ),
            (
                "MultiCardInterTimeFunOn",
                flag(self.multi_card_inter_time_fun_on),
            ),
            ("OutRelaySetFunOn", flag(self.out_relay_set_fun_on)),
            ("MachineTZFunOn", flag(self.machine_tz_fun_on)),
            ("DSTFunOn", flag(self.dst_fun_on)),
            ("CardSiteCodeFunOn", flag(self.card_site_code_fun_on)),
            ("MulCardUserFunOn", flag(self.mul_card_user_fun_on)),
            ("UserNameFunOn", flag(self.user_name_fun_on)),
            ("StringPinFunOn", flag(self.string_pin_fun_on)),
            ("MaxLockCount", self.max_lock_count.to_string()),
            ("MaxZigbeeCount", self.max_zigbee_count.to_string()),
            ("MaxMCUCardBits", self.max_mcu_card_bits.to_string()),
            ("SupportReaderType", self.support_reader_type.to_string()),
        ]);
        if let Some(format) = self.cmd_format {
            items.push(("CmdFormat", format.to_string()));
        }
        if let Some(key) = &self.auth_key {
            items.push(("authKey", key.clone()));
        }
        items.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
        checked_comma_pairs(&items)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The capabilities of the seed's registry example (seed 003 §4.4, F20/M).
    pub(crate) fn seed_example() -> Capabilities {
        Capabilities {
            device_type: "acc".into(),
            device_name: "F20/M".into(),
            firmware_version: "Ver 8.0.1.3-20151229".into(),
            push_version: "Ver 2.0.22-20161201".into(),
            mac: None,
            comm_type: "ethernet".into(),
            max_package_size: 2_048_000,
            lock_count: 1,
            reader_count: 2,
            aux_in_count: 0,
            aux_out_count: 0,
            machine_type: 101,
            only_rf_machine: false,
            max_user_count: 50,
            max_att_log_count: 10,
            max_user_finger_count: 10,
            m_threshold: 60,
            ip_address: "192.168.213.221".into(),
            net_mask: "255.255.255.0".into(),
            gateway: "192.168.213.1".into(),
            zkfp_version: 10,
            iclock_svr_fun: Some(true),
            overall_anti_fun_on: Some(false),
            rex_input_fun_on: false,
            card_format_fun_on: false,
            sup_authorize_fun_on: false,
            reader_cfg_fun_on: false,
            reader_linkage_fun_on: false,
            relay_state_fun_on: true,
            ext485_reader_fun_on: false,
            time_apb_fun_on: false,
            ctl_all_relay_fun_on: false,
            loss_card_fun_on: false,
            simple_event_type: true,
            verify_styles: "ff7f0000".into(),
            event_types: "BF0FE03D30000100000000007000000000000000000000000077002001000000".into(),
            disable_user_fun_on: false,
            delete_and_fun_on: false,
            log_id_fun_on: false,
            date_fmt_fun_on: false,
            del_all_loss_card_fun_on: false,
            auto_clear_day: 0,
            first_delay_day: 0,
            delay_day: 0,
            stop_all_verify: false,
            fv_fun_on: false,
            face_fun_on: false,
            finger_fun_on: true,
            camera_open: true,
            acc_support_fun_list: "0101010000111000000111010100011010".into(),
            auto_server_fun_on: true,
            delay_open_door_fun_on: true,
            user_open_door_delay_fun_on: true,
            multi_card_inter_time_fun_on: true,
            out_relay_set_fun_on: true,
            machine_tz_fun_on: true,
            dst_fun_on: true,
            card_site_code_fun_on: true,
            mul_card_user_fun_on: true,
            user_name_fun_on: true,
            string_pin_fun_on: true,
            max_lock_count: 4,
            max_zigbee_count: 3,
            max_mcu_card_bits: 37,
            support_reader_type: 1,
            cmd_format: None,
            auth_key: Some("dassas".into()),
            extra: Vec::new(),
        }
    }

    /// The seed's example body, its PDF line breaks removed (the two `Ver` breaks are spaces, as in
    /// the attendance seed's `Ver%202.0.12`). The seed's `Content-Length: 855` does not match its
    /// own 1266-byte body.
    pub(in crate::protocol::security) const SEED_BODY: &str = "DeviceType=acc,~DeviceName=F20/M,\
        FirmVer=Ver 8.0.1.3-20151229,PushVersion=Ver 2.0.22-20161201,CommType=ethernet,\
        MaxPackageSize=2048000,LockCount=1,ReaderCount=2,AuxInCount=0,AuxOutCount=0,\
        MachineType=101,~IsOnlyRFMachine=0,~MaxUserCount=50,~MaxAttLogCount=10,\
        ~MaxUserFingerCount=10,MThreshold=60,IPAddress=192.168.213.221,NetMask=255.255.255.0,\
        GATEIPAddress=192.168.213.1,~ZKFPVersion=10,IclockSvrFun=1,OverallAntiFunOn=0,\
        ~REXInputFunOn=0,~CardFormatFunOn=0,~SupAuthrizeFunOn=0,~ReaderCFGFunOn=0,\
        ~ReaderLinkageFunOn=0,~RelayStateFunOn=1,~Ext485ReaderFunOn=0,~TimeAPBFunOn=0,\
        ~CtlAllRelayFunOn=0,~LossCardFunOn=0,SimpleEventType=1,VerifyStyles=ff7f0000,\
        EventTypes=BF0FE03D30000100000000007000000000000000000000000077002001000000,\
        DisableUserFunOn=0,DeleteAndFunOn=0,LogIDFunOn=0,DateFmtFunOn=0,DelAllLossCardFunOn=0,\
        AutoClearDay=0,FirstDelayDay=0,DelayDay=0,StopAllVerify=0,FvFunOn=0,FaceFunOn=0,\
        FingerFunOn=1,CameraOpen=1,AccSupportFunList=0101010000111000000111010100011010,\
        AutoServerFunOn=1,DelayOpenDoorFunOn=1,UserOpenDoorDelayFunOn=1,\
        MultiCardInterTimeFunOn=1,OutRelaySetFunOn=1,MachineTZFunOn=1,DSTFunOn=1,\
        CardSiteCodeFunOn=1,MulCardUserFunOn=1,UserNameFunOn=1,StringPinFunOn=1,MaxLockCount=4,\
        MaxZigbeeCount=3,MaxMCUCardBits=37,SupportReaderType=1,authKey=dassas";

    #[test]
    fn reproduces_the_seed_registry_body_byte_for_byte() {
        let body = seed_example().encode().unwrap();
        assert_eq!(body.len(), 1266);
        assert_eq!(body, SEED_BODY);
    }

    #[test]
    fn places_optional_keys_where_the_template_has_them() {
        let mut caps = seed_example();
        caps.mac = Some("00:17:61:12:34:56".into());
        caps.iclock_svr_fun = None;
        caps.overall_anti_fun_on = None;
        caps.cmd_format = Some(0);
        caps.auth_key = None;
        caps.extra = vec![
            ("MultiStageControlFunOn".into(), "0".into()),
            ("NewVFStyles".into(), "0000111000011010".into()),
            ("DevNSLevel".into(), "0".into()),
        ];
        let body = caps.encode().unwrap();
        assert!(body.contains(",PushVersion=Ver 2.0.22-20161201,MAC=00:17:61:12:34:56,CommType="));
        assert!(body.contains(",~ZKFPVersion=10,~REXInputFunOn=0,"));
        assert!(!body.contains("IclockSvrFun") && !body.contains("authKey"));
        assert!(body.ends_with(
            ",SupportReaderType=1,CmdFormat=0,MultiStageControlFunOn=0,\
             NewVFStyles=0000111000011010,DevNSLevel=0"
        ));
    }

    #[test]
    fn rejects_values_and_keys_that_would_break_the_list() {
        let mut caps = seed_example();
        caps.device_name = "F20,M".into();
        assert_eq!(
            caps.encode(),
            Err(CapabilityError::BadValue("~DeviceName".into()))
        );
        let mut caps = seed_example();
        caps.auth_key = Some("a\nb".into());
        assert_eq!(
            caps.encode(),
            Err(CapabilityError::BadValue("authKey".into()))
        );
        for key in ["", "A=B", "A,B", "A\r"] {
            let mut caps = seed_example();
            caps.extra = vec![(key.into(), "1".into())];
            assert_eq!(caps.encode(), Err(CapabilityError::BadKey(key.into())));
        }
        let mut caps = seed_example();
        caps.extra = vec![("WGRuleVer".into(), "2,0".into())];
        assert_eq!(
            caps.encode(),
            Err(CapabilityError::BadValue("WGRuleVer".into()))
        );
    }
}
