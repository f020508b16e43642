--
-- SPYGLASS VERSION: 0.5.4 --
--

CREATE DATABASE IF NOT EXISTS common_nwbfile; USE common_nwbfile;

-- MySQL dump 10.13  Distrib 8.0.40, for Linux (x86_64)
--
-- Host: lab-db    Database: common_nwbfile
-- ------------------------------------------------------
-- Server version	8.0.40

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!50503 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `nwbfile`
--

DROP TABLE IF EXISTS `nwbfile`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `nwbfile` (
  `nwb_file_name` varchar(64) NOT NULL COMMENT 'name of the NWB file',
  `nwb_file_abs_path` varchar(255) NOT NULL,
  PRIMARY KEY (`nwb_file_name`)
) ENGINE=InnoDB COMMENT='Table for NWB files.';
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `nwbfile`
--
-- WHERE:  nwb_file_name = 'minirec20230622_.nwb'

LOCK TABLES `nwbfile` WRITE;
/*!40000 ALTER TABLE `nwbfile` DISABLE KEYS */;
INSERT INTO `nwbfile` VALUES ('minirec20230622_.nwb','/stelmo/nwb/raw/minirec20230622_.nwb');
/*!40000 ALTER TABLE `nwbfile` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `analysis_note`
--

DROP TABLE IF EXISTS `analysis_note`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `analysis_note` (
  `nwb_file_name` varchar(64) NOT NULL COMMENT 'name of the NWB file',
  `note` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (`nwb_file_name`),
  CONSTRAINT `analysis_note_ibfk_1` FOREIGN KEY (`nwb_file_name`) REFERENCES `nwbfile` (`nwb_file_name`) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `analysis_note`
--
-- WHERE:  nwb_file_name = 'minirec20230622_.nwb'

LOCK TABLES `analysis_note` WRITE;
/*!40000 ALTER TABLE `analysis_note` DISABLE KEYS */;
INSERT INTO `analysis_note` VALUES ('minirec20230622_.nwb','Imported on a server that had ) ENGINE=InnoDB DEFAULT CHARSET=latin1; this note must stay as written');
/*!40000 ALTER TABLE `analysis_note` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-30 12:00:00
